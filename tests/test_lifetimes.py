"""lifetimes.with_dels: forward frees each large intermediate before the next large value."""
from functools import partial

import torch
from attngen.lifetimes import DEL_WIDTH, with_dels
from conftest import REPO_ROOT
from equivalence import load_generated

CHAIN = [
    "a = self.conv(x)",
    "# (B, C, H, W) -> (B, C*H*W)",
    "b = a.view(B, -1)",
    "c = torch.relu(b)",
    "# a comment over d",
    "d = c * 2",
    "return d",
]


def test_dead_values_and_their_views_go_before_the_next_large_value():
    out = with_dels(CHAIN, {"x"}, {"a", "b", "c", "d"}, {"a", "b", "c", "d"})
    assert out == [*CHAIN[:4], "del a, b", *CHAIN[4:]]  # above d's comment, a with its view


def test_nothing_is_deleted_before_the_return_and_small_deaths_wait_for_a_large_value():
    lines = ["a = self.conv(x)", "s = a.sum(1)", "m = s.mean(1)", "n = s - m", "y = x * n",
             "return y"]
    out = with_dels(lines, {"x"}, {"a", "s", "m", "n", "y"}, {"a", "y"})
    # a is large: freed before the next value, even a small one (SGE's products); s and m
    # are small: freed before the next large value; n dies at the return
    assert out == [*lines[:2], "del a", *lines[2:4], "del s, m", *lines[4:]]


def test_a_name_used_only_inside_a_branch_is_deleted_there():
    lines = [
        "if self.r > 1:",
        "    g = x.permute(0, 2, 1)",
        "    m = self.conv(g)",
        "    r = m.permute(0, 2, 1).flatten(1)",
        "    t = self.ln(r)",
        "k = t if self.r > 1 else x",
        "p = self.fc(k)",
        "return p",
    ]
    out = with_dels(lines, {"x"}, {"g", "m", "r", "t", "k", "p"}, {"g", "m", "r", "t", "k", "p"})
    # g is x's storage, t is read after the branch; r dies at the branch's end, and the
    # code after it makes values
    assert out == [*lines[:4], "    del m", lines[4], "    del r", *lines[5:]]


def test_a_name_every_branch_of_a_complete_chain_binds_is_deleted_after_it():
    lines = ["a = self.conv(x)", "if self.flag:", "    b = self.f(a)", "elif not self.flag:",
             "    b = a", "c = b * 2", "d = c + 1", "return d"]
    names = {"a", "b", "c", "d"}
    # b is surely bound (EMSA's `mixed`), and may be a's storage: both go after their use
    assert with_dels(lines, {"x"}, names, names) == [*lines[:6], "del a, b", *lines[6:]]
    lines[3] = "elif self.other:"  # not complete: b may be unbound, so it is never deleted
    assert with_dels(lines, {"x"}, names, names) == [*lines[:5], "del a", *lines[5:]]


def test_a_merge_after_a_permute_is_a_new_tensor_and_torch_functions_alias():
    lines = ["t = x.transpose(1, 2).flatten(2)", "y = self.fc(t)", "z = y * 2", "return z"]
    assert with_dels(lines, {"x"}, {"t", "y", "z"}, {"t", "y", "z"}) == [
        *lines[:2], "del t", *lines[2:]]  # t is a copy, not x's storage
    lines = ["a = self.conv(x)", "v = torch.flatten(a, 1)", "w = v * 2", "y = w + 1",
             "return y"]
    assert with_dels(lines, {"x"}, {"a", "v", "w", "y"}, {"a", "v", "w", "y"}) == [
        *lines[:3], "del a, v", *lines[3:]]  # v is a's storage: freed together


def test_a_comprehensions_first_iterable_is_not_a_closure_cell():
    lines = ["a = self.conv(x)", "b = [f(a) for f in self.fs]",
             "c = [f(t) for f, t in zip(self.gs, b)]", "s = torch.stack(b, dim=0)",
             "y = s * 2", "return y"]
    names = {"a", "b", "c", "s", "y"}
    # a is read inside a comprehension (a cell: never deleted); b only in the first
    # iterable, which runs in forward's scope
    assert with_dels(lines, {"x"}, names, names) == [
        *lines[:3], "del c", lines[3], "del b", *lines[4:]]


def test_inputs_their_views_and_conditional_names_are_never_deleted():
    lines = [
        "v = x.view(B, -1)",
        "if m is not None:",
        "    e = v * m",
        "f = torch.relu(v) if e is None else e",
        "g = f + 1",
        "return g",
    ]
    out = with_dels(lines, {"x", "m"}, {"v", "e", "f", "g"}, {"v", "e", "f", "g"})
    assert out == lines  # v shares x's storage; e may be unbound; f dies at the return


def test_source_that_does_not_parse_is_returned_unchanged():
    assert with_dels(["y = (", "return y"], set(), {"y"}, {"y"}) == ["y = (", "return y"]


def _peak_bytes(step) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    held = peak = 0
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    for e in sorted(events, key=lambda e: e.start_ns()):
        held += e.nbytes()
        peak = max(peak, held)
    return peak


def test_generated_forward_holds_no_more_memory_than_the_reference():
    """SimAM and SDPA name a chain of full-size intermediates: freed as they die, the
    generated forward's peak is at most the hand-written one's (it was 2x and 1.7x)."""
    from references.attention import ScaledDotProductAttention
    from references.simam import SimAM

    x = torch.randn(2, 16, 12, 12)
    q = torch.randn(2, 20, 32)
    cases = [(load_generated("simam").SimAM(), SimAM(), (x,)),
             (load_generated("sdpa").ScaledDotProductAttention(32, 8, 8, 4),
              ScaledDotProductAttention(32, 8, 8, 4), (q, q, q))]
    for gen, ref, inputs in cases:
        gen.eval()
        ref.eval()
        with torch.no_grad():
            gen(*inputs), ref(*inputs)  # warm-up: first-call allocations
            assert _peak_bytes(partial(gen, *inputs)) <= _peak_bytes(partial(ref, *inputs))


def test_a_long_del_is_several_lines_that_fit():
    names = [f"value_number_{i}" for i in range(12)]
    lines = ["x0 = self.conv(x)", *(f"{n} = x0 * {i}" for i, n in enumerate(names)),
             f"y = {' + '.join(names)}", "z = y * 2", "return z"]
    out = with_dels(lines, {"x"}, {"x0", *names, "y", "z"}, {"x0", *names, "y", "z"})
    dels = [line for line in out if line.startswith("del ")]
    assert len(dels) > 1 and all(len(line) <= DEL_WIDTH for line in dels)
    assert sorted(n for line in dels for n in line[4:].split(", ")) == sorted(["x0", *names])


def _fwd_bwd(module, inputs):
    def step():
        for p in module.parameters():
            p.grad = None
        module(*inputs).sum().backward()
    return step


def test_issue_16_memory_misses_hold_no_more_than_the_reference():
    """Modules whose peak was over the reference's (issue 16): PSA's conv list, SGE's
    products, ViP's token copies and stacked branches, UFO's XNorm, EMSA's `mixed` and
    `normed` (bound by both branches of `if c:` / `elif not c:`) with one head."""
    from references.emsa import EMSA
    from references.psa import PSA
    from references.sge import SpatialGroupEnhance
    from references.ufo import UFOAttention
    from references.vip import WeightedPermuteMLP

    img, tokens = torch.randn(2, 32, 14, 14), torch.randn(2, 64, 64)
    grid = torch.randn(2, 144, 128)  # 12 x 12 tokens
    cases = [
        ("psa", "PSA", PSA, (32,), {}, (img,), False),
        ("sge", "SpatialGroupEnhance", SpatialGroupEnhance, (4,), {}, (img,), False),
        ("vip", "WeightedPermuteMLP", WeightedPermuteMLP, (16, 4), {},
         (torch.randn(2, 4, 4, 16),), True),
        ("ufo_attention", "UFOAttention", UFOAttention, (64, 32, 32, 4), {},
         (tokens[:, :8], tokens, tokens), True),
        ("emsa", "EMSA", EMSA, (128, 8, 8, 1), {"H": 12, "W": 12, "ratio": 2},
         (grid,) * 3, False),
    ]
    over = []
    for stem, cls, ref_type, args, kwargs, inputs, backward in cases:
        torch.manual_seed(0)
        ref = ref_type(*args, **kwargs)
        gen = getattr(load_generated(stem), cls)(*args, **kwargs)
        gen.load_state_dict(ref.state_dict())
        for train in (False, True) if backward else (False,):
            gen.train(train), ref.train(train)
            if train:
                grads = [t.detach().clone().requires_grad_() for t in inputs]
                gen_step, ref_step = _fwd_bwd(gen, grads), _fwd_bwd(ref, grads)
            else:
                gen_step, ref_step = (torch.no_grad()(partial(m, *inputs)) for m in (gen, ref))
            gen_step(), ref_step()  # warm-up: first-call allocations
            if _peak_bytes(gen_step) > _peak_bytes(ref_step):
                over.append(f"{cls} {'fwd+bwd' if train else 'forward'}")
    assert not over


def test_a_branchs_own_names_exclude_those_the_other_branch_or_a_later_test_reads():
    lines = ["a = self.conv(x)", "if self.flag:", "    u = self.f(a)", "    v = self.g(u)",
             "    w = v * 2", "    s = w + 1", "else:", "    u = self.h(a)", "    s = u * 3",
             "y = self.out(s)", "z = y + 1", "return z"]
    names = {"a", "u", "v", "w", "s", "y", "z"}
    # v and w live only in the first branch: freed there; u is bound in both branches,
    # so it is freed after the `if` with a
    assert with_dels(lines, {"x"}, names, names) == [
        *lines[:5], "    del v", lines[5], "    del w", *lines[6:9], "del a, u", lines[9],
        "del s", *lines[10:]]
    lines = ["a = self.conv(x)", "if self.flag:", "    u = self.f(a)", "    v = u * 2",
             "    s = v + 1", "elif v is None:", "    s = self.h(a)", "else:", "    s = a",
             "y = self.out(s)", "return y"]
    names = {"a", "u", "v", "s", "y"}
    # the `elif` test reads v: it is not the first branch's own, and stays
    assert with_dels(lines, {"x"}, names, names) == [*lines[:4], "    del u", *lines[4:]]


def test_the_parse_shared_with_accumulate_is_never_handed_out():
    from attngen.accumulate import accumulated

    lines = ["a = self.conv(x)", "return a"]  # nothing to split, nothing to delete
    for _ in range(2):
        split = accumulated(lines, {"x"}, lambda name: None)
        freed = with_dels(split, {"x"}, {"a"}, {"a"})
        assert split == freed == lines
        split.append("junk")  # a caller's edit stays the caller's
        freed.append("junk")


def test_a_name_bound_under_a_test_is_freed_in_the_next_branch_of_that_test():
    """MBConv: `when: expand_ratio != 1` layers, then a cases node whose first case reads
    them under the same condition: freed in that branch after their last read (the
    expansion's BatchNorm output held the block's peak 25% above the reference's)."""
    lines = ["if self.e != 1:", "    a = self.conv(x)", "    b = self.bn(a)",
             "if self.e != 1:", "    c = self.act(b)", "elif self.e == 1:", "    c = x",
             "d = self.pad(c)", "y = self.conv2(d)", "return y"]
    names = {"a", "b", "c", "d", "y"}
    out = with_dels(lines, {"x"}, names, names)
    assert out[:6] == [*lines[:3], "    del a", lines[3], lines[4]] and out[6] == "    del b"
    lines[3] = "if self.other:"  # another test: b may be unbound there, so it is kept
    assert "    del b" not in with_dels(lines, {"x"}, names, names)
    lines[3], lines[8] = "if self.e != 1:", "y = self.conv2(d) + b"  # read after: kept
    assert "    del b" not in with_dels(lines, {"x"}, names, names)


def test_the_opposite_comparison_completes_a_chain():
    """`elif x == 1` after `if x != 1` (as the emitter writes a case's condition) covers
    every value: a name both branches bind is surely bound after the chain."""
    lines = ["a = self.conv(x)", "if self.e != 1:", "    b = self.f(a)", "elif self.e == 1:",
             "    b = self.g(a)", "c = b * 2", "d = c + 1", "return d"]
    names = {"a", "b", "c", "d"}
    assert with_dels(lines, {"x"}, names, names) == [*lines[:5], "del a", lines[5], "del b",
                                                     *lines[6:]]
    lines[3] = "elif self.e == 2:"
    assert with_dels(lines, {"x"}, names, names) == [*lines[:5], "del a", *lines[5:]]


def test_the_second_of_two_opposite_cases_is_else_unless_a_case_reads_a_conditional_value():
    """MBConv's `out` (`not (...)` of the first case) is one conditional expression; its
    `expanded` (`expand_ratio == 1` of `!= 1`) reads `_bn0`, made under that test, so it
    stays an if block where `_bn0` is freed."""
    source = (REPO_ROOT / "generated" / "mbconv.py").read_text()
    assert "out = _bn2 + x if self.stride == 1 and self.input_filters == self.output_filters" \
        " else _bn2" in source
    assert "            expanded = self._swish(_bn0)\n            del _bn0\n" \
        "        elif self.expand_ratio == 1:\n" in source


def test_a_layer_named_like_a_view_method_makes_a_new_tensor():
    """ACmix's nn.Unfold is `self.unfold`: its result is no view of `self` (taken as one, its
    three 315 MB window tensors lived to the end of forward, 934 MiB against 634)."""
    lines = ["a = self.unfold(x)", "b = a * 2", "c = self.unfold(b)", "d = c + 1", "return d"]
    names = {"a", "b", "c", "d"}
    assert with_dels(lines, {"x"}, names, names) == [
        *lines[:2], "del a", lines[2], "del b", *lines[3:]]


def test_a_declared_layer_is_no_value_of_forward():
    """DynamicPosBias's layers are declared for `apply:`: counted as values (never bound,
    their size unknown), they made every real value look small, so forward freed none."""
    import attngen
    from attngen.checker import check
    from attngen.lifetimes import value_names

    loaded = attngen.load(str(REPO_ROOT / "specs" / "dynamic_pos_bias.yaml"))
    names, big = value_names(check(loaded.spec))
    assert not {"pos1", "pos2", "pos3"} & names and big == names
    assert "del pos_proj, h1" in loaded.source()
