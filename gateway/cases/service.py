"""Case tasks in the gateway: the hook that turns a case-ready alert into a task and its deliveries inside the
review decision's transaction, and the delivery worker that pushes them.

The API's review decisions call `on_ready(conn, alert, decision)` (api.context.OnReady); the gateway builds it
here, so the decision path never knows about case systems, and the case code never knows about HTTP routes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import structlog

from evidence.log import EvidenceLog
from gateway.cases.build import build_task
from gateway.cases.config import CasesConfig
from gateway.cases.links import LINK_KEY_PURPOSE, LinkSigner
from gateway.cases.metrics import CaseMetrics
from gateway.cases.outbox import create_task
from gateway.cases.signing import WebhookSecret
from gateway.cases.worker import DeliveryWorker
from gateway.config import EnforcementConfig
from gateway.workers import WorkerRegistry

log = structlog.get_logger(__name__)


def link_key(config: CasesConfig, evidence: EvidenceLog | None) -> bytes:
    """The configured link secret, else one derived from the evidence signing key (stable across restarts)."""
    if config.link_secret is not None:
        return WebhookSecret.parse(config.link_secret).key
    if evidence is None:
        raise ValueError("case tasks need cases.link_secret when the gateway has no evidence log")
    return evidence.signer.derive_key(LINK_KEY_PURPOSE)


class CaseService:
    def __init__(self, database_url: str, config: CasesConfig, enforcement: EnforcementConfig, *,
                 evidence: EvidenceLog | None, base_url: str, metrics: CaseMetrics) -> None:
        self.config = config
        self.enforcement = enforcement
        self.evidence = evidence
        self.links = LinkSigner(link_key(config, evidence), config.public_base_url or base_url, config.link_ttl_s)
        self.tz = ZoneInfo(config.timezone)
        self.origin = evidence.config.origin if evidence is not None else ""
        self.metrics = metrics
        self.worker = DeliveryWorker(database_url, config.systems, metrics, evidence=evidence,
                                     poll_s=config.poll_s, lease_margin_s=config.lease_margin_s) \
            if config.systems else None

    def start(self, workers: WorkerRegistry | None = None) -> None:
        if self.worker is not None:
            self.worker.start(workers)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def wake(self, *_args: object) -> None:
        if self.worker is not None:
            self.worker.wake()

    def on_ready(self, conn: psycopg.Connection, alert: dict, decision: dict) -> None:
        """In the decision's transaction: the task and its outbox rows (an error rolls the decision back)."""
        task = build_task(conn, alert, decision, enforcement=self.enforcement, links=self.links,
                          origin=self.origin, tz=self.tz, now=datetime.now(UTC))
        made = create_task(conn, task, alert["id"], self.config.systems)
        log.info("cases.task_created", task=made.task_id, clue=alert["clue_code"], systems=list(made.systems),
                 unrouted=made.unrouted)
