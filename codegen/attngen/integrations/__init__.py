"""Generated modules inside other libraries' networks (docs/integrations.md).

- `attngen.integrations.timm.attn_layer(spec_or_class, **fixed)`: a class with timm's
  attention-layer signature `(channels, *, device=None, dtype=None)`;
- `attngen.integrations.ultralytics.register(*specs)`: spec modules usable by name in
  ultralytics model YAMLs, their channels taken from the incoming layer.

Each submodule imports its library (and torch); `import attngen` imports neither. Both read
which params the channel count determines from the spec's shapes (`attngen.binding`).
"""
