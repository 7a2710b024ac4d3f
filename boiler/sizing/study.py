"""A sizing study of one building: its candidates, their configs and tasks, and their scores once run."""

from __future__ import annotations

from dataclasses import dataclass

from boiler.config import PlantConfig
from boiler.sizing.candidates import Candidate, candidate_config, expand, reference_of_or_none
from boiler.sizing.engine import RunOutcome
from boiler.sizing.score import Scored, score
from boiler.sizing.spec import SizingSpec
from boiler.sizing.task import SimTask, make_task
from boiler.sizing.weeks import combine


@dataclass(frozen=True)
class SiteStudy:
    site: str
    spec: SizingSpec
    candidates: list[Candidate]
    configs: list[PlantConfig]
    #: Each candidate's simulations: one for a period, one per representative week.
    candidate_tasks: list[list[SimTask]]
    reference: Candidate | None

    @property
    def tasks(self) -> list[SimTask]:
        return [t for tasks in self.candidate_tasks for t in tasks]

    def scores(self, outcome: RunOutcome) -> list[Scored]:
        """Scores of the candidates whose simulations all ran (failed ones are in `outcome.failed`)."""
        out = []
        for cand, cfg, tasks in zip(self.candidates, self.configs, self.candidate_tasks, strict=True):
            records = [outcome.records.get(t.key) for t in tasks]
            if any(r is None for r in records):
                continue
            summary = combine([r["summary"] for r in records if r is not None])
            out.append(score(self.site, tasks[0].key, cand, summary, [t.volume_l for t in cfg.tanks],
                             self.spec.capital, self.spec.finance, reference=cand == self.reference))
        return out


def plan(site: str, building: PlantConfig, spec: SizingSpec) -> SiteStudy:
    candidates = expand(spec, building)
    configs = [candidate_config(building, c, spec.finishing_volume_l) for c in candidates]
    windows = spec.period.windows()
    tasks = [[make_task(cfg, days, start, spec.seed, site) for start, days in windows] for cfg in configs]
    return SiteStudy(site, spec, candidates, configs, tasks, reference_of_or_none(building))
