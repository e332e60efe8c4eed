"""The steps a job type declares: what `currentStep`, `phase` and the learned ETA are made of.

A job type's `steps` lists its steps in the order they run. Each step is one `Stage` (the key
its durations are learned under), a label shown as `currentStep` ("Reading the file"), the
phases it reports (key -> label, shown as `phase`), and whether its time grows with the
upload's size (`sized`: then its ETA scales by bytes). Every job type starts with the
worker's own `READ_STEP`: `ctx.read()` reports it while the upload streams in.
"""

from dataclasses import dataclass

from function_app.domain.jobs import Stage


@dataclass(frozen=True)
class Phase:
    key: str
    label: str


@dataclass(frozen=True)
class Step:
    stage: Stage
    label: str
    phases: tuple[Phase, ...] = ()
    sized: bool = True

    def phase_label(self, key: str | None) -> str | None:
        """The label of phase `key` (a key this step does not declare is its own label)."""
        if key is None:
            return None
        return next((p.label for p in self.phases if p.key == key), key)


@dataclass(frozen=True)
class Steps:
    """A job type's steps, in order; one step per stage."""

    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        stages = [step.stage for step in self.steps]
        if len(set(stages)) != len(stages):
            raise ValueError(f"a stage appears twice in {stages}")

    def get(self, stage: Stage) -> Step | None:
        return next((step for step in self.steps if step.stage == stage), None)

    def from_(self, stage: Stage) -> tuple[Step, ...]:
        """The step of `stage` and those after it (empty for a stage not declared)."""
        for index, step in enumerate(self.steps):
            if step.stage == stage:
                return self.steps[index:]
        return ()


NO_STEPS = Steps()

DOWNLOAD = Phase("download", "Downloading the file")
READ_STEP = Step(Stage.FETCHING, "Reading the file", (DOWNLOAD,))
# The last step of every shipped job type: its time does not grow with the upload.
RESULT_STEP = Step(
    Stage.STORING, "Preparing the result", (Phase("result", "Building the result"),), sized=False
)
# The worker's own steps before and after a job type's (not learned: they take no time).
START_LABEL = "Starting"
