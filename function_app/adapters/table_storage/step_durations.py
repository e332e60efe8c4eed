"""`StepDurations` on the jobs table: what past runs of each job type took, step by step.

| PartitionKey | RowKey       | what                                                        |
|--------------|--------------|-------------------------------------------------------------|
| `durations`  | `<job name>` | `steps`: `{stage: [samples, seconds, s/byte]}`; `run`: same |

One row per job type, so a job reads everything its ETAs need in one point read. Learning
reads the row, folds the sample in with `Durations.learn` (the domain's rule), and writes it
back on the ETag it read (inserts when absent); a concurrent learner makes the write lose,
and the fold is redone on a fresh read (`rows.decide_and_write`), so no sample is lost to a
race. Nothing here names an owner or a job.
"""

from collections.abc import Mapping
from typing import Any

from function_app.adapters.table_storage.entity_fields import get_json, is_valid_key, put_json
from function_app.adapters.table_storage.rows import Decision, Entity, TableRows, decide_and_write
from function_app.domain.durations import Durations, RunSample, StepStats

DURATIONS_PARTITION = "durations"
MAX_LEARN_ATTEMPTS = 16


def _stats_to_json(stats: StepStats) -> list[float]:
    return [stats.samples, stats.seconds, stats.seconds_per_byte]


def _stats_from_json(value: Any) -> StepStats:
    samples, seconds, per_byte = value
    return StepStats(int(samples), float(seconds), float(per_byte))


def durations_to_entity(job_name: str, durations: Durations) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": DURATIONS_PARTITION, "RowKey": job_name}
    put_json(entity, "steps", {k: _stats_to_json(v) for k, v in durations.steps.items()})
    put_json(entity, "run", _stats_to_json(durations.run))
    return entity


def durations_from_entity(entity: Mapping[str, Any] | None) -> Durations:
    if entity is None:
        return Durations()
    steps = get_json(entity, "steps") or {}
    run = get_json(entity, "run")
    return Durations(
        steps={str(k): _stats_from_json(v) for k, v in steps.items()},
        run=StepStats() if run is None else _stats_from_json(run),
    )


class TableStepDurations:
    """`StepDurations` on the jobs table (see the module docstring for the layout)."""

    def __init__(self, rows: TableRows) -> None:
        self._rows = rows

    async def get(self, job_name: str) -> Durations:
        return durations_from_entity(await self._rows.get(DURATIONS_PARTITION, job_name))

    async def learn(self, job_name: str, sample: RunSample) -> Durations:
        if not is_valid_key(job_name):
            raise ValueError(f"not a job name a table key can hold: {job_name[:64]!r}")

        def fold(current: Entity | None) -> Decision[Durations]:
            learned = durations_from_entity(current).learn(sample)
            entity = durations_to_entity(job_name, learned)
            if current is None:
                return Decision(learned, lambda: self._rows.insert_if_absent(entity, "durations"))
            etag = current.metadata["etag"]
            return Decision(
                learned, lambda: self._rows.replace_if_unchanged(entity, etag, "durations")
            )

        return await decide_and_write(
            lambda: self._rows.get(DURATIONS_PARTITION, job_name),
            fold,
            attempts=MAX_LEARN_ATTEMPTS,
            what=f"durations of {job_name}",
        )
