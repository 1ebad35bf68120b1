from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from images.accounts.login import ThrottledAdminAuthenticationForm
from images.views import login, monitoring

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_header = admin.site.site_title = "Dockyard administration"

urlpatterns = [
    path("", include("images.urls")),
    path("login/", login.LoginView.as_view(), name="login"),
    path("login/oidc/", login.oidc_start, name="oidc-start"),
    path("login/oidc/callback", login.oidc_callback, name="oidc-callback"),
    path("logout/", login.LogoutView.as_view(), name="logout"),
    # The admin site's own form turns away anyone who is not staff: everyone changes theirs on Dockyard's.
    path("admin/password_change/", RedirectView.as_view(pattern_name="account-password")),
    path("admin/", admin.site.urls),
    path("healthz", monitoring.healthz, name="healthz"),
    path("metrics", monitoring.metrics_view, name="metrics"),
]
