from django.urls import path

from . import run_views, task_list_views, template_views, views

urlpatterns = [
    path("tasks/", task_list_views.task_list, name="task-list"),
    path("tasks/<uuid:pk>/", views.task_detail, name="task-detail"),
    # Listed before the task actions, so "home-actions" is never read as the name of one.
    path("tasks/<uuid:pk>/home-actions/", views.task_home_actions, name="task-home-actions"),
    path("tasks/<uuid:pk>/<slug:action>/", views.task_action, name="task-action"),
    path("runs/<uuid:pk>/", views.run_detail, name="run-detail"),
    path("runs/<uuid:pk>/<slug:action>/", views.run_action, name="run-action"),
    path("workflows/", run_views.run_list, name="run-list"),
    path("workflows/templates/", template_views.template_library, name="template-library"),
    path("workflows/templates/<uuid:pk>/", template_views.template_detail, name="template-detail"),
    path("workflows/templates/<uuid:pk>/launch/", run_views.run_launch, name="run-launch"),
    path("workflows/templates/<uuid:pk>/clone/", template_views.template_clone, name="template-clone"),
    path("workflows/templates/<uuid:pk>/edit/", template_views.template_edit, name="template-edit"),
]
