"""How the product's config names one miner: which catalogue model it is and how to reach it."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_MAC_HEX = re.compile(r"^[0-9A-F]{12}$")


def normalise_mac(mac: str) -> str:
    """`c6-07-00-00-00-02` or `c60700000002` → `C6:07:00:00:00:02` (the form pyasic reports)."""
    digits = re.sub(r"[^0-9A-Fa-f]", "", mac).upper()
    if not _MAC_HEX.match(digits):
        raise ValueError(f"not a MAC address: {mac!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


@dataclass(frozen=True)
class Credentials:
    """Login for a miner's API. `None` fields mean "pyasic's default for that firmware"."""

    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        # A repr can end up in a log line or a traceback; never show the secret.
        shown = "None" if self.password is None else "'**********'"
        return f"Credentials(username={self.username!r}, password={shown})"


class MinerConfig(BaseModel):
    """One miner of the fleet. The simulator needs only `name` and `model`; the driver uses the rest."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Unique name used in logs, MQTT topics and the ledger.")
    model: str = Field(description="Catalogue key, e.g. 's21-hyd' (see `miners.catalogue.CATALOGUE`).")
    host: str | None = Field(
        default=None, description="IP address of the miner on the plant network (needed by the real driver)."
    )
    mac: str | None = Field(
        default=None, description="MAC address; identifies the miner again when its IP address changes."
    )
    serial: str | None = Field(default=None, description="Serial number; second way to identify the miner.")
    username: str | None = Field(default=None, description="API user; empty means the firmware's default.")
    password: SecretStr | None = Field(
        default=None, description="API password. Prefer `password_env` so the secret stays out of the file."
    )
    password_env: str | None = Field(
        default=None, description="Name of the environment variable that holds the API password."
    )
    timeout_s: float | None = Field(
        default=None, gt=0, le=120, description="Timeout of one call to this miner; default: the fleet's."
    )

    @field_validator("host")
    @classmethod
    def _host_is_ip(cls, host: str | None) -> str | None:
        # pyasic builds `ipaddress.ip_address(host)` for every API, so a hostname cannot work.
        if host is None:
            return None
        return str(ipaddress.ip_address(host.strip()))

    @field_validator("mac")
    @classmethod
    def _mac_form(cls, mac: str | None) -> str | None:
        return None if mac is None else normalise_mac(mac)

    @model_validator(mode="after")
    def _one_password_source(self) -> MinerConfig:
        if self.password is not None and self.password_env is not None:
            raise ValueError("give either `password` or `password_env`, not both")
        return self

    def credentials(self, environ: Mapping[str, str] | None = None) -> Credentials:
        """The login for this miner; a named but unset environment variable is an error."""
        env = os.environ if environ is None else environ
        password = self.password
        if self.password_env is not None:
            if self.password_env not in env:
                raise KeyError(f"miner {self.name}: environment variable {self.password_env} is not set")
            password = SecretStr(env[self.password_env])
        return Credentials(username=self.username, password=password)
