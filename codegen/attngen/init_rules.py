"""The `init:` section as generated code: the nn.init calls of `init_weights`, one branch
per module type, then the lines of each rule for one layer (`layer: proj`), which come
after them (templates/class.py.j2 writes the method around them)."""

from __future__ import annotations

from .model import Spec


def init_rules(spec: Spec) -> list[dict]:
    """One entry per rule: the module type (`op`), the layer (`layer`: None for a rule by
    type) and the lines of its branch (a layer's name `m` there: `m = self.proj`)."""
    rules = []
    for rule in spec.init:
        lines, o = [], rule.options
        mode = o.get("mode", "fan_in")
        weight = {
            "normal": f"nn.init.normal_(m.weight, mean={o.get('mean', 0.0)!r}, "
                      f"std={o.get('std', 1.0)!r})",
            # timm's `trunc_normal_(m.weight, std=.02)`: the options given, as written
            "trunc_normal": "nn.init.trunc_normal_(m.weight" + "".join(
                f", {k}={o[k]!r}" for k in ("mean", "std", "a", "b") if k in o) + ")",
            "kaiming_normal": f"nn.init.kaiming_normal_(m.weight, mode={mode!r})",
            "kaiming_uniform": f"nn.init.kaiming_uniform_(m.weight, mode={mode!r})",
            "xavier_uniform": "nn.init.xavier_uniform_(m.weight)",
            "xavier_normal": "nn.init.xavier_normal_(m.weight)",
            "constant": f"nn.init.constant_(m.weight, {o.get('value', 0.0)!r})",
            "zeros": "nn.init.zeros_(m.weight)",
            "ones": "nn.init.ones_(m.weight)",
        }
        if rule.weight == "shift":  # input channel i one-hot at kernel position i (ACmix)
            lines += ["# each input channel one-hot at its kernel position: a shift",
                      "with torch.no_grad():",
                      "    eye = torch.eye(m.weight.shape[1], dtype=m.weight.dtype, "
                      "device=m.weight.device)",
                      "    m.weight.copy_(eye.view_as(m.weight[:1]).expand_as(m.weight))"]
        elif rule.weight:
            text = weight[rule.weight]
            if "nonlinearity" in o:
                text = text[:-1] + f", nonlinearity={o['nonlinearity']!r})"
            if rule.weight == "normal" and "mean" not in o:
                text = text.replace("mean=0.0, ", "")
            lines.append(text.replace("'", '"'))
        if rule.bias:
            value = "nn.init.zeros_(m.bias)" if rule.bias == "zeros" \
                else f"nn.init.constant_(m.bias, {o.get('value', 0.0)!r})"
            lines += ["if m.bias is not None:", f"    {value}"]
        rules.append({"op": rule.op, "layer": rule.layer, "lines": lines or ["pass"]})
    return sorted(rules, key=lambda rule: rule["layer"] is not None)  # by type first
