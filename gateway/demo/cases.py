"""The demo's case system: a reference receiver (`enforcegw case-sink`'s CaseSink) in the demo's process, and
the enforcement items of the demo zones, so a reviewed demo alert travels the whole way: the night-noise alert
waits for a supervisor's legal review, the oil-fume alert goes to a case once confirmed. A demo config that
names its own items or case systems keeps them."""

from __future__ import annotations

from gateway.cases.config import CaseSystem
from gateway.cases.signing import WebhookSecret
from gateway.config import EnforcementItem, Settings
from gateway.demo.zones import ITEM_FUME, ITEM_NIGHT_NOISE

DEMO_ITEMS = {
    ITEM_NIGHT_NOISE: EnforcementItem(name="夜间施工噪声扰民", legal_review=True,
                                      legal_basis="《中华人民共和国噪声污染防治法》第四十三条、第七十七条"),
    ITEM_FUME: EnforcementItem(name="餐饮服务业油烟超标排放", legal_review=False,
                               legal_basis="《中华人民共和国大气污染防治法》第八十一条、第一百一十八条"),
}
# The receiver's case numbers come back in its answer: {"case_no": ...}.
SINK_ACK_PATH = "case_no"


def with_demo_cases(settings: Settings, sink_url: str | None, secret: WebhookSecret | None) -> Settings:
    enforcement = settings.enforcement.model_copy(update={"items": {**DEMO_ITEMS, **settings.enforcement.items}})
    update: dict[str, object] = {"enforcement": enforcement}
    if sink_url is not None and secret is not None and not settings.cases.systems:
        system = CaseSystem(name="demo-case-sink", url=sink_url, secret=[secret.text()], ack_path=SINK_ACK_PATH)
        update["cases"] = settings.cases.model_copy(update={"systems": [system], "poll_s": 0.5})
    return settings.model_copy(update=update)
