# Written by hand: Django cannot migrate a table to or from a composite primary key.

from django.db import migrations, models

# A partitioned table's key must hold the partition key (start): (meter_id, direction, start)
# does, so the surrogate (id, start) key, its sequence and the separate unique index go. So
# does the BRIN index on start: every query of readings names the meter (the key's first
# column), and keeping it up to date doubled the buffer accesses of an import's INSERT.
NATURAL_KEY_SQL = """
DROP INDEX usage_reading_start_brin;
ALTER TABLE usage_reading DROP CONSTRAINT usage_reading_pkey;
ALTER TABLE usage_reading DROP CONSTRAINT usage_reading_meter_direction_start;
ALTER TABLE usage_reading DROP COLUMN id;
ALTER TABLE usage_reading ADD CONSTRAINT usage_reading_pkey
    PRIMARY KEY (meter_id, direction, start);
"""

SURROGATE_KEY_SQL = """
ALTER TABLE usage_reading DROP CONSTRAINT usage_reading_pkey;
ALTER TABLE usage_reading ADD COLUMN id bigserial NOT NULL;
ALTER TABLE usage_reading ADD CONSTRAINT usage_reading_pkey PRIMARY KEY (id, start);
ALTER TABLE usage_reading ADD CONSTRAINT usage_reading_meter_direction_start
    UNIQUE (meter_id, direction, start);
CREATE INDEX usage_reading_start_brin ON usage_reading USING brin (start);
"""


def _remake(schema_editor, model):
    """SQLite (a plain table): the table made again from ``model``, keeping every row."""
    schema_editor.execute("ALTER TABLE usage_reading RENAME TO usage_reading__old")
    schema_editor.create_model(model)
    columns = ", ".join(
        schema_editor.quote_name(field.column)
        for field in model._meta.local_concrete_fields
        if field.column != "id"
    )
    schema_editor.execute(
        f"INSERT INTO usage_reading ({columns}) SELECT {columns} FROM usage_reading__old"
    )
    schema_editor.execute("DROP TABLE usage_reading__old")


def natural_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NATURAL_KEY_SQL, params=None)
    else:
        _remake(schema_editor, apps.get_model("usage", "Reading"))


def surrogate_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SURROGATE_KEY_SQL, params=None)
    else:
        _remake(schema_editor, apps.get_model("usage", "Reading"))


class Migration(migrations.Migration):

    dependencies = [
        ('usage', '0007_rollup_natural_primary_key'),
    ]

    operations = [
        # Unapplying runs surrogate_key here, where the state still has the id.
        migrations.RunPython(migrations.RunPython.noop, surrogate_key),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name='reading',
                    name='usage_reading_meter_direction_start',
                ),
                migrations.RemoveField(
                    model_name='reading',
                    name='id',
                ),
                migrations.AddField(
                    model_name='reading',
                    name='pk',
                    field=models.CompositePrimaryKey('meter', 'direction', 'start', blank=True, editable=False, primary_key=True, serialize=False),
                ),
            ],
        ),
        migrations.RunPython(natural_key, migrations.RunPython.noop),
    ]
