"""Output lines move from a row each to compressed chunks (images/jobs/logstore.py).
Lines stored before had no time of their own: they take their job's start."""

import django.db.models.deletion
from django.db import migrations, models

from images.jobs.logstore import chunked, encode


def lines_to_chunks(apps, schema_editor):
    Job = apps.get_model("images", "Job")
    JobLine = apps.get_model("images", "JobLine")
    LogChunk = apps.get_model("images", "LogChunk")
    for pk, started_at, queued_at in Job.objects.filter(lines__isnull=False).distinct().values_list(
            "pk", "started_at", "queued_at").iterator():
        arrived = int((started_at or queued_at).timestamp() * 1000)
        stored = JobLine.objects.filter(job_id=pk).order_by("seq").values_list("seq", "text")
        rows = []
        for run in chunked([seq, text.replace("\n", " "), arrived] for seq, text in stored.iterator(chunk_size=5000)):
            rows.append(LogChunk(job_id=pk, first_seq=run[0][0], last_seq=run[-1][0], line_count=len(run),
                                 first_ms=arrived, data=encode(run, run[0][0], arrived)))
            if len(rows) >= 100:
                LogChunk.objects.bulk_create(rows)
                rows = []
        LogChunk.objects.bulk_create(rows)


class Migration(migrations.Migration):

    dependencies = [
        ('images', '0011_provenance'),
    ]

    operations = [
        migrations.CreateModel(
            name='LogChunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('first_seq', models.IntegerField()),
                ('last_seq', models.IntegerField()),
                ('line_count', models.IntegerField()),
                ('first_ms', models.BigIntegerField(help_text='When the first line arrived, in ms since the epoch.')),
                ('data', models.BinaryField()),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='log_chunks', to='images.job')),
            ],
            options={
                'ordering': ['job', 'first_seq'],
            },
        ),
        migrations.RunPython(lines_to_chunks, migrations.RunPython.noop),
        migrations.DeleteModel(
            name='JobLine',
        ),
        migrations.AddIndex(
            model_name='logchunk',
            index=models.Index(fields=['job', 'last_seq'], name='log_chunk_last_seq'),
        ),
        migrations.AddConstraint(
            model_name='logchunk',
            constraint=models.UniqueConstraint(fields=('job', 'first_seq'), name='unique_log_chunk'),
        ),
    ]
