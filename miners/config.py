"""How the product's config names one miner: which catalogue model it is and how to reach it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MinerConfig(BaseModel):
    """One miner of the fleet. The simulator needs only `name` and `model`; the driver uses the rest."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Unique name used in logs, MQTT topics and the ledger.")
    model: str = Field(description="Catalogue key, e.g. 's21-hyd' (see `miners.catalogue.CATALOGUE`).")
