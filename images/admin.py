from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import path

from images.accounts import audit, roles
from images import engines
from images.hooks import outbound as hook_outbound, receivers as hook_receivers, sources as hook_sources
from images.hooks.forms import HookSourceForm, WebhookReceiverForm
from images.models import (ApiToken, AuditEntry, EngineRole, HookReceipt, HookSource, Job, WebhookDelivery,
                           WebhookReceiver)
from images.responses import StreamingResponse


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("pk", "engine", "kind", "target", "state", "created_by", "queued_at", "finished_at")
    list_filter = ("engine", "kind", "state")
    search_fields = ("target", "image_id")
    readonly_fields = [field.name for field in Job._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are written by Dockyard and never edited or deleted here."""

    list_display = ("at", "actor_name", "engine", "action", "target", "outcome", "detail", "job", "address", "via")
    list_filter = ("engine", "outcome", "action", "via", "actor_name", "at")
    search_fields = audit.SEARCHED
    date_hierarchy = "at"
    list_select_related = ("job",)
    change_list_template = "admin/images/auditentry/change_list.html"

    def has_module_permission(self, request):
        return request.user.has_perm("images.read_audit")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("images.read_audit")

    def has_add_permission(self, request, obj=None):  # an inline is asked with the object it is in
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        export = [
            path("export.csv", self.admin_site.admin_view(self.export_csv), name="images_auditentry_export_csv"),
            path("export.jsonl", self.admin_site.admin_view(self.export_jsonl),
                 name="images_auditentry_export_jsonl"),
        ]
        return export + super().get_urls()

    def _filtered(self, request):
        """The entries the change list shows with the same filters, oldest first."""
        roles.check(request.user, "read_audit", target=request.path)  # the refusal names the role, as a page's
        changelist = self.get_changelist_instance(request)
        return changelist.get_queryset(request).select_related(None).order_by("at", "pk")

    def export_csv(self, request):
        response = StreamingResponse(audit.csv_lines(self._filtered(request)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="dockyard-audit.csv"'
        return response

    def export_jsonl(self, request):
        response = StreamingResponse(audit.jsonl_lines(self._filtered(request)), content_type="application/jsonl")
        response["Content-Disposition"] = 'attachment; filename="dockyard-audit.jsonl"'
        return response


def _engine_field():
    """An engine is chosen among those configured, not typed."""
    from django import forms

    return forms.ChoiceField(choices=[(name, name) for name in engines.names()], label="Engine")


class EngineRoleInline(admin.TabularInline):
    """Roles on one engine each, on top of the global role."""

    model = EngineRole
    extra = 0
    verbose_name = "role on one engine"
    verbose_name_plural = "roles on one engine (on top of the global role)"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "engine":
            return _engine_field()
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(EngineRole)
class EngineRoleAdmin(admin.ModelAdmin):
    list_display = ("user", "engine", "role")
    list_filter = ("engine", "role")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "engine":
            return _engine_field()
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(request.user, "user-change", obj.user.get_username(),
                     detail=f"in the admin site; role {obj.role} on the engine {obj.engine}")

    def delete_model(self, request, obj):
        audit.record(request.user, "user-change", obj.user.get_username(),
                     detail=f"in the admin site; no role of its own on the engine {obj.engine}")
        super().delete_model(request, obj)


class DockyardUserAdmin(UserAdmin):
    """Django's user admin, as Dockyard admins use it: roles are groups, a role
    change is audited, and only a superuser can make a superuser or hand out
    single permissions (an admin could otherwise raise their own rights)."""

    inlines = [EngineRoleInline]

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ("is_superuser", "user_permissions")
        return fields

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        role = roles.role_of(user)
        roles.assign(user, role)  # one role, and the admin site for admins
        on_engines = "".join(f"; {granted.role} on {granted.engine}" for granted in user.engine_roles.all())
        audit.record(request.user, "user-change" if change else "user-create", user.get_username(),
                     detail=f"in the admin site; role {role or 'none'}{on_engines}"
                            f"{'' if user.is_active else ', inactive'}")


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), DockyardUserAdmin)


# Webhooks (images.hooks) --------------------------------------------------------

class _ManagedByHookAdmins:
    """Admins with manage_hooks see and change these. They are made through the API
    (POST /api/hooks/sources, /api/hooks/receivers), whose answer shows the new secret once:
    a secret shown here would pass through the session's message store."""

    def has_module_permission(self, request):
        return request.user.has_perm("images.manage_hooks")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("images.manage_hooks")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("images.manage_hooks")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("images.manage_hooks")

    def has_add_permission(self, request, obj=None):  # an inline is asked with the object it is in
        return False


class _ReadOnly(_ManagedByHookAdmins):
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HookReceiptInline(_ReadOnly, admin.TabularInline):
    model = HookReceipt
    extra = 0
    fields = ("received_at", "delivery_id", "event", "ref", "commit", "outcome", "job")
    readonly_fields = fields
    ordering = ("-received_at",)


@admin.register(HookSource)
class HookSourceAdmin(_ManagedByHookAdmins, admin.ModelAdmin):
    form = HookSourceForm
    list_display = ("name", "provider", "repository", "branch", "recipe", "run_as", "enabled", "created_at")
    list_filter = ("provider", "enabled")
    inlines = [HookReceiptInline]

    def save_model(self, request, obj, form, change):
        hook_sources.change_source(form, request.user)

    def delete_model(self, request, obj):
        hook_sources.delete_source(obj, request.user)

    def delete_queryset(self, request, queryset):
        # "Delete selected": each one audited, as one deleted from its own page.
        for source in queryset:
            hook_sources.delete_source(source, request.user)


@admin.register(WebhookReceiver)
class WebhookReceiverAdmin(_ManagedByHookAdmins, admin.ModelAdmin):
    form = WebhookReceiverForm
    list_display = ("name", "url", "format", "events", "enabled", "created_at")
    actions = ["send_test_delivery"]

    @admin.action(description="Send a test delivery")
    def send_test_delivery(self, request, queryset):
        """A signed `ping` to each selected receiver; its answer shows in the delivery log."""
        sent = [hook_outbound.send_test(receiver, request.user) for receiver in queryset]
        self.message_user(request, f"Sent {len(sent)} test deliver{'y' if len(sent) == 1 else 'ies'}: see "
                                   "Webhook deliveries for the answers.", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        hook_receivers.change_receiver(form, request.user)

    def delete_model(self, request, obj):
        hook_receivers.delete_receiver(obj, request.user)

    def delete_queryset(self, request, queryset):
        # "Delete selected": each one audited, as one deleted from its own page.
        for receiver in queryset:
            hook_receivers.delete_receiver(receiver, request.user)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly, admin.ModelAdmin):
    """The delivery log: each event sent to a receiver, its attempts and the last answer."""

    list_display = ("created_at", "receiver", "event", "state", "attempts", "last_status", "last_error",
                    "delivered_at")
    list_filter = ("state", "event", "receiver")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
