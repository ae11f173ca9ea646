import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# Everything loaded at start-up (settings, apps, models and the modules they import) lives as long
# as the process: moved out of the garbage collector's generations, it is no longer re-scanned by
# every full collection a large page triggers.
gc.collect()
gc.freeze()
