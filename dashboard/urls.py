from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from images.accounts.login import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm
from images.views import monitoring

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_header = admin.site.site_title = "Dockyard administration"

urlpatterns = [
    path("", include("images.urls")),
    path("login/", auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The admin site's own form turns away anyone who is not staff: everyone changes theirs on Dockyard's.
    path("admin/password_change/", RedirectView.as_view(pattern_name="account-password")),
    path("admin/", admin.site.urls),
    path("healthz", monitoring.healthz, name="healthz"),
    path("metrics", monitoring.metrics_view, name="metrics"),
]
