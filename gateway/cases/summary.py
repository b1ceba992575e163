"""The task's summary in Chinese: one paragraph a case officer reads first. Pure: built from the task's parts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

KIND_ZH = {
    "construction_noise": "建筑施工噪声超标",
    "environmental_noise": "环境噪声超标",
    "social_noise": "社会生活噪声超标",
    "oil_fume": "餐饮油烟超标排放",
    "dust": "扬尘超标",
    "water_quality": "水质超标",
    "wastewater_discharge": "污水超标排放",
    "air_quality": "环境空气质量超标",
    "sensor_exceedance": "监测值超标",
    "illegal_parking": "违法停车",
    "street_vending": "占道经营",
    "open_burning": "露天焚烧",
    "illegal_dumping": "违法倾倒",
    "river_boat": "保护河段违规船只",
    "illegal_construction": "违法建设",
    "no_fly_violation": "禁飞区飞行",
}
AVERAGING_ZH = {"leq": "等效声级", "mean": "均值", "max": "最大值", "min": "最小值", "sample": "单次测量值"}


def _local(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y年%m月%d日%H时%M分")


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, int | float) else str(v)


def summary_zh(*, kind: str, start: datetime, end: datetime | None, place: str, device: str,
               proof: dict[str, Any], item_name: str | None, tz: ZoneInfo) -> str:
    what = item_name or KIND_ZH.get(kind, kind)
    when = _local(start, tz) + (f"至{_local(end, tz)}" if end is not None else "起")
    text = f"{when}，{place}，设备{device}发现疑似{what}。"
    metric, peak, limit = proof.get("metric"), proof.get("peak_value"), proof.get("limit_value")
    if metric is not None and peak is not None and limit is not None:
        unit = proof.get("unit") or ""
        avg = AVERAGING_ZH.get(str(proof.get("averaging")), "")
        window = proof.get("window_s")
        span = f"{int(window) // 60}分钟" if isinstance(window, int | float) and window >= 60 else ""
        basis = " ".join(str(p) for p in (proof.get("standard"), proof.get("clause")) if p)
        text += (f"{metric}{span}{avg}最高{_fmt(peak)}{unit}，超过{basis or '标准'}规定的限值"
                 f"{_fmt(limit)}{unit}。")
    return text
