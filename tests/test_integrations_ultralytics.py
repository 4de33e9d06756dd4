"""ultralytics (issue 15): spec modules by name in yolov8.yaml, their channels from the
incoming layer, so one YAML builds at every scale. Runs under `pytest -m integrations` in
the integrations venv (README); ultralytics is imported inside the tests. Nothing is
downloaded: models are built from the packaged YAML and run on a small image."""
import copy
import os

import attngen
import pytest
from attngen.integrations.common import library_specs

pytestmark = pytest.mark.integrations
os.environ.setdefault("YOLO_VERBOSE", "False")

MODULES = ["SEAttention", "CBAM", "ECAAttention", "CoordAtt", "SKAttention",
           "TripletAttention"]


def insert_after_backbone(cfg: dict, name: str, args: list) -> dict:
    """yolov8's config with `name` after its last backbone layer (SPPF), the head's
    absolute layer indices renumbered: those of SPPF now read the attention layer
    (docs/integrations.md shows the YAML)."""
    cfg = copy.deepcopy(cfg)
    at = len(cfg["backbone"])
    cfg["backbone"].append([-1, 1, name, args])

    def shift(i):
        return i + 1 if isinstance(i, int) and i >= at - 1 else i

    for row in cfg["head"]:
        row[0] = [shift(i) for i in row[0]] if isinstance(row[0], list) else shift(row[0])
    return cfg


@pytest.fixture(scope="module")
def yolov8():
    from attngen.integrations.ultralytics import register
    from ultralytics.nn.tasks import yaml_model_load

    registered = register()
    assert set(MODULES) <= set(registered)
    return yaml_model_load("yolov8.yaml")


@pytest.mark.parametrize("name", MODULES)
def test_one_yaml_builds_and_runs_at_every_scale(yolov8, name, one_torch_thread):
    import torch
    from ultralytics.nn.tasks import DetectionModel

    spec = next(s for s in map(attngen.load, library_specs()) if s.name == name)
    for scale in "nsmlx":
        cfg = insert_after_backbone(yolov8, name, [])
        cfg["scale"] = scale
        model = DetectionModel(cfg, verbose=False).eval()
        layer = model.model[len(yolov8["backbone"])]
        channels = model.model[len(yolov8["backbone"]) - 1].cv2.conv.out_channels  # SPPF's
        assert type(layer).__name__ == name
        with torch.no_grad():
            out = model(torch.zeros(1, 3, 64, 64))
        assert out[0].shape[:2] == (1, 84)  # 4 box coordinates and 80 classes
        values = {p: channels for p in spec.binding.channels}
        assert sum(p.numel() for p in layer.parameters()) == spec.param_count(**values), scale


def test_yaml_args_are_the_other_params_by_position_or_mapping(yolov8):
    from ultralytics.nn.tasks import DetectionModel

    at = len(yolov8["backbone"])
    for args in ([4], [{"reduction": 4}]):
        cfg = dict(insert_after_backbone(yolov8, "SEAttention", args), scale="n")
        layer = DetectionModel(cfg, verbose=False).model[at]
        assert layer.fc[0].out_features == 256 // 4  # yolov8n's SPPF gives 256 channels


def test_a_module_nobody_registered_is_a_clear_error(yolov8):
    from ultralytics.nn.tasks import DetectionModel

    cfg = dict(insert_after_backbone(yolov8, "NotASpecAttention", []), scale="n")
    with pytest.raises(ValueError, match="layer 10 names 'NotASpecAttention', a module neither "
                       "ultralytics nor attngen.integrations.ultralytics.register knows"):
        DetectionModel(cfg, verbose=False)
