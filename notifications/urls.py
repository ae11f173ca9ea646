from django.urls import path

from . import views

urlpatterns = [
    path("", views.inbox, name="notification-inbox"),
    path("read-all/", views.mark_all_read, name="notification-read-all"),
    path("<uuid:pk>/read/", views.mark_read, name="notification-read"),
    path("<uuid:pk>/dismiss/", views.dismiss, name="notification-dismiss"),
    path("<uuid:pk>/acknowledge/", views.acknowledge, name="notification-acknowledge"),
    path("preferences/", views.preferences, name="notification-preferences"),
    path("unread-count/", views.unread_count, name="notification-unread-count"),
]
