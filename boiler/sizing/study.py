"""A sizing study of one building: its candidates, their configs and tasks, and their scores once run."""

from __future__ import annotations

from dataclasses import dataclass

from boiler.config import PlantConfig
from boiler.sizing.candidates import Candidate, candidate_config, expand, reference_of_or_none
from boiler.sizing.engine import RunOutcome
from boiler.sizing.score import Scored, score
from boiler.sizing.spec import SizingSpec
from boiler.sizing.task import SimTask, make_task


@dataclass(frozen=True)
class SiteStudy:
    site: str
    spec: SizingSpec
    candidates: list[Candidate]
    configs: list[PlantConfig]
    tasks: list[SimTask]
    reference: Candidate | None

    def scores(self, outcome: RunOutcome) -> list[Scored]:
        """Scores of the candidates that ran (failed ones are in `outcome.failed`)."""
        out = []
        for cand, cfg, task in zip(self.candidates, self.configs, self.tasks, strict=True):
            record = outcome.records.get(task.key)
            if record is None:
                continue
            out.append(score(self.site, task.key, cand, record["summary"], [t.volume_l for t in cfg.tanks],
                             self.spec.capital, self.spec.finance, reference=cand == self.reference))
        return out


def plan(site: str, building: PlantConfig, spec: SizingSpec) -> SiteStudy:
    candidates = expand(spec, building)
    configs = [candidate_config(building, c, spec.finishing_volume_l) for c in candidates]
    period = spec.period
    tasks = [make_task(cfg, period.days, period.start, spec.seed, site) for cfg in configs]
    return SiteStudy(site, spec, candidates, configs, tasks, reference_of_or_none(building))
