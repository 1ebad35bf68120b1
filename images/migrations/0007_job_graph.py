from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('images', '0006_layer_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='graph',
            field=models.JSONField(blank=True, default=dict,
                                   help_text="A BuildKit build's vertices, transfers and warnings, as the job page draws them."),
        ),
    ]
