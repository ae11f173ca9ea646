from django.urls import path

from . import views

urlpatterns = [
    path("tasks/<uuid:pk>/", views.task_detail, name="task-detail"),
    path("tasks/<uuid:pk>/<slug:action>/", views.task_action, name="task-action"),
    path("runs/<uuid:pk>/", views.run_detail, name="run-detail"),
    path("runs/<uuid:pk>/<slug:action>/", views.run_action, name="run-action"),
]
