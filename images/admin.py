from django.contrib import admin

from images.models import ApiToken, Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "target", "state", "created_by", "queued_at", "finished_at")
    list_filter = ("kind", "state")
    search_fields = ("target", "image_id")
    readonly_fields = [field.name for field in Job._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")
