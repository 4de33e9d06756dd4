"""The `attngen` command line's grammar: every command, its arguments and their help."""

from __future__ import annotations

import argparse
import sys

from . import __version__

EXIT_USAGE = 2
DIAGRAM_FORMATS = ("svg", "png", "pdf", "dot")
SPEC_OR_NAME = "a spec file or built-in name"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 on usage errors; keep it, shorter text
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"attngen: error: {message}\n")


def _include(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                        help="a folder whose specs `use:` and `extends:` may read, besides "
                        "the spec's own folder and the built-in library; repeatable")


def _werror(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-W", dest="werror", choices=("error",),
                        help="-W error (or -Werror): report warnings as errors, exit 1 and "
                        "write nothing for a spec that warns")


def _spec_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")


def _writes(parser: argparse.ArgumentParser, folder: str) -> None:
    """The spec paths, the output folder (default `folder`) and `--check`: the options of a
    command that writes files from specs (build, docs)."""
    _spec_paths(parser)
    parser.add_argument("-o", "--out", default=folder, metavar="DIR",
                        help=f"output folder (default: {folder}/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the files that would change")


def _collapse(parser: argparse.ArgumentParser, drawn_as: str) -> None:
    parser.add_argument("--collapse", action="store_true",
                        help=f"draw each sub-module as one {drawn_as}")


def _watch(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--watch", action="store_true",
                        help=f"{what} (needs the serve extra); Ctrl-C stops")


def command_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="attngen", description="Attention modules as checked YAML dataflow graphs "
                "-> PyTorch source and diagrams.")
    p.add_argument("--version", action="version", version=f"attngen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    b = sub.add_parser("build", help="check specs and write generated/NAME.py, .dot, .svg")
    _writes(b, "generated")
    b.add_argument("--all-or-nothing", action="store_true",
                   help="write nothing if any spec fails (default: build the others)")
    b.add_argument("--no-svg", action="store_true", help="skip SVG rendering")
    b.add_argument("--no-cache", action="store_true",
                   help="check and render every spec, ignoring the build cache")
    b.add_argument("--spec-refs", action="store_true",
                   help="name the spec line of every forward line in a comment "
                   "(`# [specs/eca.yaml:14]`)")
    b.add_argument("--no-fuse", action="store_true",
                   help="write attention as the spec does, not as one fused "
                   "scaled_dot_product_attention call")
    b.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="build in up to N processes (default: one per CPU, where there are "
                   "enough specs to share; 1: in this process)")
    _watch(b, "stay up and rebuild what each change of a spec file affects")
    _werror(b)
    _include(b)

    c = sub.add_parser("check", help="validate specs and print each node's shape")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("-q", "--quiet", action="store_true",
                   help="print only errors and warnings")
    _werror(c)
    _include(c)

    s = sub.add_parser("show", help="the graph in the terminal: branches in lanes, shapes")
    s.add_argument("spec", metavar="SPEC")
    s.add_argument("--width", type=int, metavar="N",
                   help="columns to fit in (default: the terminal's width)")
    _collapse(s, "step")
    _watch(s, "draw again at each change of the spec's files")
    _include(s)

    sub.add_parser("ops", help="list the op library")

    v = sub.add_parser("verify", help="run the generated modules (needs torch) and check every "
                       "node's runtime and torch.export shapes against the spec")
    _spec_paths(v)
    v.add_argument("-n", "--samples", type=int, default=6, metavar="N",
                   help="random param/dim assignments per spec, at least one per "
                   "configuration (default: 6)")
    v.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    v.add_argument("--no-export", action="store_true", help="skip the torch.export check")
    v.add_argument("--onnx", action="store_true",
                   help="also export to ONNX (dynamo) and compare onnxruntime's outputs with "
                   "PyTorch's on three input sizes (needs attngen[integrations])")
    v.add_argument("--compile", action="store_true",
                   help="also run torch.compile(module, fullgraph=True) (a graph break is an "
                   "error) and compare its outputs with eager's")
    v.add_argument("--spec-refs", action="store_true",
                   help="verify the source `attngen build --spec-refs` writes")
    _include(v)

    g = sub.add_parser("diagram", help="draw one spec as SVG, PNG, PDF or DOT")
    g.add_argument("spec", metavar="SPEC")
    g.add_argument("-o", "--out", metavar="FILE",
                   help="output file (default: standard output); its suffix (.svg, .png, .pdf, "
                   ".dot) sets the format")
    g.add_argument("--format", choices=DIAGRAM_FORMATS,
                   help="output format (default: from -o's suffix, else svg)")
    g.add_argument("--rankdir", choices=("TB", "LR"), default="TB",
                   help="flow top to bottom (default) or left to right")
    _collapse(g, "box")
    g.add_argument("--legend", action="store_true", help="add the colour key")
    _include(g)

    d = sub.add_parser("docs", help="write Markdown pages with diagrams: one per spec, an index")
    _writes(d, "docs")
    _include(d)

    pc = sub.add_parser("params", help="parameter count per node and in total, from the spec "
                        "alone (no torch)")
    pc.add_argument("spec", metavar="SPEC", help=SPEC_OR_NAME)
    pc.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                    help="a param value (an expression, e.g. --set channel=256 --set "
                    "reduction=channel//32); repeatable. Params without a default use the "
                    "spec's example value unless set")
    pc.add_argument("--all", action="store_true", help="list nodes without parameters too")
    pc.add_argument("--total", action="store_true", help="print only the total, a plain integer")
    _include(pc)

    df = sub.add_parser("diff", help="compare two specs: nodes, shapes, params, parameter count")
    df.add_argument("old", metavar="A", help=SPEC_OR_NAME)
    df.add_argument("new", metavar="B", help=SPEC_OR_NAME)
    _include(df)

    nw = sub.add_parser("new", help="write NAME.yaml, a variant skeleton that extends a spec",
                        description="Write NAME.yaml: `extends:` SPEC, a new class name, and "
                        "commented edits. It builds unchanged; never overwrites a file.")
    nw.add_argument("name", metavar="NAME", help="the new spec's file stem, e.g. se_wide "
                    "(class SeWide)")
    nw.add_argument("--from", required=True, dest="base", metavar="SPEC",
                    help="the base: a built-in name (se) or a spec file")
    nw.add_argument("-o", "--out", default=".", metavar="DIR",
                    help="folder for NAME.yaml (default: the current folder; in a checkout "
                    "use -o specs/variants for a built-in variant)")
    _include(nw)

    sv = sub.add_parser("serve", help="a local web app: each spec's diagram, source and "
                        "errors, updated as the files change (needs the serve extra)")
    sv.add_argument("paths", nargs="*", metavar="PATH",
                    help="spec files or folders (default: specs/ and specs/variants/, else the "
                    "built-in library's)")
    sv.add_argument("--port", type=int, default=8000, metavar="N", help="default: 8000")
    sv.add_argument("--open", action="store_true", help="open the page in a browser")
    sv.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                    help="interface to listen on (default: 127.0.0.1; any other is reachable "
                    "from other machines: a warning says so)")
    _include(sv)
    return p
