"""PostgreSQL only: tell the planner that a task's follow-up date goes with its home state.

Only waiting work has a follow-up date, so "waiting" and "follow-up on or before a day" are not
independent conditions. Multiplying their selectivities, the planner expected about 15 of 1,900
waiting tasks in the follow-ups-due group at 100,000 tasks, joined and sorted the whole group
instead of reading its first rows in order (9 ms against 3 ms). Extended statistics
(functional dependencies and most-common values over the two columns) fix the estimate. SQLite
has no such statistics; its planner reads the index either way.
"""

from django.db import migrations

NAME = "task_home_follow_up_stats"


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE STATISTICS IF NOT EXISTS {NAME} (dependencies, mcv) ON home_state, follow_up_at FROM workflows_task"
    )
    schema_editor.execute("ANALYZE workflows_task")


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP STATISTICS IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("workflows", "0010_run_next_due_index")]

    operations = [migrations.RunPython(create_statistics, drop_statistics, elidable=False)]
