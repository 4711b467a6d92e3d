"""What `edgeconv prune --structured` prints: totals before -> after, then the layers whose
channels changed."""
from __future__ import annotations

from .options import emit_json, print_table


def show_channels(title: str, section: dict, as_json: bool) -> None:
    if as_json:
        emit_json(section)
        return
    print_table(title, channel_rows(section))


def channel_rows(s: dict) -> list[tuple[str, str]]:
    t = s["total"]
    amount = (f"searched for {s['target_macs']:.0%} of the MACs: {s['ratio']:.0%} of each group"
              if s["target_macs"] is not None else f"{s['ratio']:.0%} of each group")
    rows = [("channels removed", f"{amount}, rounded to {s['round_to']}, by {s['importance']} importance; "
                                 f"{s['groups_shrunk']} of {s['groups']} groups shrunk"),
            ("parameters", _before_after(t["params_before"], t["params_after"], "fewer")),
            ("MACs", _before_after(t["macs_before"], t["macs_after"], "fewer"))]
    if "int8" in s:
        b, a = s["int8"]["before"], s["int8"]["after"]
        rows += [("int8 .tflite", _before_after(b["bytes"], a["bytes"], "smaller", " B")),
                 ("int8 arena", _before_after(b["arena_bytes"], a["arena_bytes"], "smaller", " B", a["arena_from"])),
                 ("int8 latency", f"{b['p50_ms']:.3f} -> {a['p50_ms']:.3f} ms p50 on {a['latency_on']} "
                                  f"({s['int8']['speedup']:.2f}x faster)")]
    if s["surgery_metrics"]:
        tuned = s["tuned_metrics"].get("accuracy")
        rows.append(("accuracy on DATA", f"{s['surgery_metrics']['accuracy'] * 100:.1f}% after surgery"
                     + (f", {tuned * 100:.1f}% after fine-tuning{' (distilled)' if s['distilled'] else ''}"
                        if tuned is not None else "")))
    rows += [(f"layer {r['layer']}", f"{r['channels_before']} -> {r['channels_after']} channels, "
              f"{r['macs_before']:,} -> {r['macs_after']:,} MACs")
             for r in s["layers"] if r["channels_after"] != r["channels_before"] and r["macs_before"]]
    return rows


def _before_after(before: int, after: int, word: str, unit: str = "", source: str = "") -> str:
    ratio = before / after if after else 0.0
    return f"{before:,} -> {after:,}{unit} ({ratio:.2f}x {word}{'; ' + source if source else ''})"
