"""What the work engine announces. Higher layers (notifications, recurring) react in their
``AppConfig.ready()``; ``workflows`` never imports them."""

from django.dispatch import Signal

#: A run's current stage moved. kwargs: run, from_stage, to_stage
run_stage_changed = Signal()
#: A run was created or topped up. kwargs: run, created (bool), recovered (int), by
run_instantiated = Signal()
#: A template (and its trigger) was saved. kwargs: template
template_saved = Signal()
