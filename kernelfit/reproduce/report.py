"""``REPORT.md`` of a reproduction, generated from its stored records (never by hand).

Sections: the paper's kernel figures against the measured ones; the
minimum-norm comparison; the plots; the networks' Table 1 rows and Figure 1
panels; the command of every row; the machine and library versions; steps
that were skipped or failed.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..memory import format_bytes
from ..results_io import write_text
from ..tables import markdown_table
from .paper import PAPER_KERNEL, PAPER_TABLE1
from .plan import FULL_FILTERS, record_command
from .plots import plot_error_vs_n, plot_norm_vs_n

__all__ = ["write_report"]

_MODE_NOTE = {
    "full": "Full run: the paper's training-set sizes (60,000 MNIST, 50,000 CIFAR-10 images) "
            "and all test images, except where a row says otherwise.",
    "quick": "**Quick run (`--quick`): subsets of the data, not the paper's sizes.** Errors "
             "are higher and norms smaller than at full size; rerun with `--full` for the "
             "paper's setting.",
    "smoke": "**Smoke run: tiny subsets that exercise every code path; the figures mean "
             "nothing.**",
}


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


#: Prefix of the phase times of the reg = 0 fit solved beside ``reg="auto"``.
_REG0 = "reg 0: "


def _seconds(record, source: str = "result") -> float:
    """Seconds of one fit: the phases it shares with the other fit of its Gram (if any)
    and its own (``"reg 0: ..."`` for ``source="unregularized"``)."""
    timings = record.get("timings", {})
    if source == "unregularized":
        return float(sum(v for k, v in timings.items() if k.startswith(_REG0)
                         or f"{_REG0}{k}" not in timings))
    return float(sum(v for k, v in timings.items() if not k.startswith(_REG0)))


def _hardware(record) -> str:
    machine = record.get("machine", {})
    where = machine.get("gpu") or f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
    return where


def _peak(record) -> str:
    """Peak RSS of the step; ``<=`` when it ran inside an earlier reproduction's
    own process (``ru_maxrss`` is the process's maximum so far, so it bounds the
    step's peak from above). A step run as its own command (``own_process``, or
    a separate ``kernelfit ... --json`` run, which has no ``step``) is exact."""
    peak = format_bytes(record["peak_rss_bytes"])
    shared = "step" in record and not record.get("own_process", False)
    return f"<= {peak}" if shared else peak


def _sizes(record) -> str:
    return f"{record['n_train']:,} / {record['n_test']:,}"


def _details(record, fit: dict, source: str, shared_with: list) -> list:
    """The setting column of one row: dtype, residual, filters, feature map, reg, sigma."""
    config = record["config"]
    details = [config["dtype"], f"residual {fit['relative_residual']:.1e}"]
    if config.get("features") == "randconv":
        params = (record.get("feature_map") or {}).get("params", {})
        filters = params.get("n_filters", config["feature_params"].get("n_filters"))
        details.append(f"{filters or record['n_features'] // 8:,} filters")
        if record.get("resumed_filters"):
            details.append(f"Gram of {record['resumed_filters']:,} filters from a checkpoint")
        details += [f"{name} {params[key]}" for key, name in (
            ("pooling", "pooling"), ("alpha", "alpha"), ("whitening_epsilon", "ZCA epsilon"))
            if key in params]
    reg = config.get("reg")
    if source == "unregularized":
        details.append("reg 0")
    elif isinstance(reg, str):
        chosen = config.get("reg_chosen")
        details.append(f"reg {reg}" + (f" -> {chosen:g}" if chosen is not None else ""))
    elif reg:
        details.append(f"reg {reg:g}")
    if record["bandwidth"] is not None:
        details.append(f"sigma {record['bandwidth']:.4g}")
    if shared_with:
        details.append("one streamed Gram with the row" + ("s " if len(shared_with) > 1
                                                           else " ") + ", ".join(shared_with))
    return details


def _kernel_rows(steps, records) -> list:
    """One row per report row of the headline steps (a step may fill several, from one
    record: :attr:`~kernelfit.reproduce.plan.Step.report_rows`), in the paper's order."""
    order = list(PAPER_KERNEL)
    entries = [(row, source, step) for step in steps if step.group == "headline"
               for row, source in step.rows()]
    entries.sort(key=lambda e: order.index(e[0]) if e[0] in order else len(order))
    rows = []
    for row, source, step in entries:
        paper = PAPER_KERNEL.get(row)
        label = paper.label if paper else step.title
        record = records.get(step.name)
        fit = record if source == "result" or record is None else record.get(source)
        if fit is None:
            rows.append([label, _pct(paper and paper.test_error),
                         "not run" if record is None else f"no {source} fit in the record",
                         "-", "-", "-", "-", "-", "-", "-"])
            continue
        siblings = [PAPER_KERNEL[r].label if r in PAPER_KERNEL else r
                    for r, _ in step.rows() if r != row]
        details = _details(record, fit, source, siblings)
        rows.append([
            label,
            _pct(paper.test_error) if paper else "-",
            f"**{_pct(fit['test_error'])}**",
            _pct(fit["train_error"]),
            f"{paper.rkhs_norm:g}" if paper and paper.rkhs_norm else "-",
            f"{fit['rkhs_norm']:.1f}",
            _sizes(record),
            f"{_seconds(record, source):,.0f} s",
            _peak(record),
            "; ".join(details) + f"; {_hardware(record)}",
        ])
    return rows


def _norm_lines(records, store) -> list:
    lines = []
    raw, gabor = records.get("mnist-gaussian"), records.get("mnist-gabor")
    if raw and gabor:
        lines.append(
            f"- **Raw pixels against Gabor features (MNIST):** the minimum-norm interpolant's "
            f"RKHS norm goes from {raw['rkhs_norm']:.1f} to {gabor['rkhs_norm']:.1f} "
            f"(x{gabor['rkhs_norm'] / raw['rkhs_norm']:.2f}; paper: about 220 to 390, x1.77) "
            f"while the test error goes from {_pct(raw['test_error'])} to "
            f"{_pct(gabor['test_error'])} (paper: 1.2% to 0.6%). The two norms live in "
            f"different RKHSs (different features and bandwidths), which is the paper's point: "
            f"the norm alone does not predict which generalizes better.")
    noise = store.read_output("nets/kernel-noise-mnist-gaussian.json")
    if noise:
        by_p = {}
        for run in noise["runs"]:
            by_p.setdefault(run["p"], []).append(run)
        if 0.0 in by_p and 1.0 in by_p:
            def mean(p, key):
                return sum(r[key] for r in by_p[p]) / len(by_p[p])

            n = noise["dataset"].get("n_train")
            lines.append(
                f"- **True labels against random labels (MNIST, {n:,} training images, one "
                f"Gaussian kernel):** RKHS norm {mean(0.0, 'rkhs_norm'):.1f} with the true "
                f"labels, {mean(1.0, 'rkhs_norm'):.1f} with random labels "
                f"(x{mean(1.0, 'rkhs_norm') / mean(0.0, 'rkhs_norm'):.2f}); both interpolate "
                f"(training error {_pct(mean(0.0, 'train_error'))} and "
                f"{_pct(mean(1.0, 'train_error'))}); test error "
                f"{_pct(mean(0.0, 'test_error'))} against {_pct(mean(1.0, 'test_error'))}.")
    return lines


def _sweep_plots(steps, records, root: Path) -> list:
    series_error = {"pixels": [], "Gabor": []}
    series_norm = {"pixels": [], "Gabor": []}
    sigma = {"pixels": {}, "Gabor": {}}
    for step in steps:
        record = records.get(step.name)
        if record is None or step.config is None or step.config.dataset != "mnist":
            continue
        if step.group not in ("sweep", "headline"):
            continue
        label = "Gabor" if step.config.features == "gabor" else "pixels"
        if any(n == record["n_train"] for n, _ in series_error[label]):
            continue
        series_error[label].append((record["n_train"], record["test_error"]))
        series_norm[label].append((record["n_train"], record["rkhs_norm"]))
        sigma[label][record["n_train"]] = record["bandwidth"]
    if not any(series_error.values()):
        return []
    paper_error = {"pixels": (60000, 0.012), "Gabor": (60000, 0.006)}
    paper_norm = {"pixels": (60000, 220.0), "Gabor": (60000, 390.0)}
    plots = root / "plots"
    written = [
        ("Test error against training-set size (exact interpolation, MNIST)",
         plot_error_vs_n(series_error, plots / "error-vs-n.png", paper=paper_error,
                         title="MNIST: test error of the exact interpolant")),
        ("RKHS norm against training-set size",
         plot_norm_vs_n(series_norm, plots / "norm-vs-n.png", paper=paper_norm,
                        title="MNIST: RKHS norm of the minimum-norm interpolant",
                        **_bandwidth_notes(sigma))),
    ]
    rows = [[label, f"{n:,}", _pct(e), f"{dict(series_norm[label])[n]:.1f}",
             _sigma_text(sigma[label].get(n))]
            for label, points in series_error.items() for n, e in sorted(points)]
    table = markdown_table(("features", "n train", "test error", "RKHS norm", "sigma"), rows)
    return [*written, ("table", table)]


def _sigma_text(bandwidth) -> str:
    return "-" if bandwidth is None else f"{bandwidth:.4g}"


def _bandwidth_notes(sigma: dict) -> dict:
    """``notes`` and ``caption`` for the norm plot: each point's sigma, for the series
    whose bandwidth differs from point to point (a held-out choice per n)."""
    varying = {label: by_n for label, by_n in sigma.items()
               if len({b for b in by_n.values() if b is not None}) > 1}
    if not varying:
        return {}
    notes = {label: {n: rf"$\sigma$={_sigma_text(b)}" for n, b in by_n.items() if b is not None}
             for label, by_n in varying.items()}
    names = " and ".join(varying)
    return {"notes": notes,
            "caption": rf"{names}: $\sigma$ chosen on held-out data at each n, so each "
                       "point is another kernel"}


def _table1_rows(store) -> list:
    rows = []
    for name in ("nets/table1-cifar10-mlp1x512-mlp3x512.json", "nets/table1-cifar10-alexnet.json"):
        record = store.read_output(name)
        if not record:
            continue
        n = record["dataset"].get("n_train")
        for run in record["runs"]:
            labels = "random" if run["corruption"] == "random_labels" else "true"
            wd = bool(run["weight_decay"])
            paper = PAPER_TABLE1.get((run["model"], bool(run["random_crop"]), wd, labels))
            rows.append([
                run["model"], "yes" if run["random_crop"] else "no", "yes" if wd else "no",
                labels, f"{n:,}",
                f"{paper[0]:.2f} / {paper[1]:.2f}" if paper else "-",
                f"{100 * run['train_accuracy']:.2f} / {100 * run['test_accuracy']:.2f}",
            ])
    return rows


def _environment(records) -> list:
    # Command steps (the network runs) record no versions: take an experiment's.
    record = next((r for r in (records or {}).values() if "versions" in r), None)
    if record is None:
        from ..provenance import environment

        versions, machine = environment()
    else:
        versions, machine = record["versions"], record["machine"]
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} "
                     f"threads, {b.get('architecture')})" for b in versions.get("blas", []))
    return [
        f"- Machine: {machine.get('cpu')}, {machine.get('cores')} cores"
        + (f", GPU {machine['gpu']}" if machine.get("gpu") else ", no GPU")
        + f"; {machine.get('platform')}",
        f"- kernelfit {versions.get('kernelfit')}, Python {versions.get('python')}, NumPy "
        f"{versions.get('numpy')}, SciPy {versions.get('scipy')}; BLAS: {blas}",
    ]


def write_report(store, steps, mode: str, result) -> Path:
    """Write ``REPORT.md`` (and its plots) into the reproduction folder.

    Parameters
    ----------
    store : ResultStore
    steps : list of Step
    mode : str
    result : Reproduction
        What this run did (for the skipped / failed section).

    Returns
    -------
    Path
    """
    records = store.records(steps)
    root = store.root
    out = [
        f"# Zhang et al., Section 5, reproduced by kernelfit (`--{mode}`)",
        "",
        f"Generated by `kernelfit reproduce --{mode} --out {root.name}` on "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}. This file is written by the command; "
        "rerun it rather than editing. Results already in the folder are reused when their "
        "configuration matches.",
        "",
        _MODE_NOTE[mode],
        "",
        "## Kernel results: the paper against this run",
        "",
        markdown_table(
            ("result", "paper test error", "measured test error", "train error",
             "paper RKHS norm", "measured RKHS norm", "n train / test", "time", "peak memory",
             "setting and hardware"),
            _kernel_rows(steps, records)),
        f"Random-convolution rows use {FULL_FILTERS:,} filters in a full run (the paper: "
        "32,000) and fewer in quick runs; a row whose Gram came from a checkpoint says how "
        "many filters it restored, and its time counts only what that run computed. "
        "The random-conv interpolant and its + l2 row come from one run (`--reg auto`): one "
        "streamed Gram, factorized for the held-out ridge and again for reg 0; each row's "
        "time is the phases the two share plus its own solve, and the peak memory is the "
        "run's. Time is the sum of the phases; the paper solved its 60,000-point system in "
        "under 3 minutes on 24 cores and 256 GB.",
        "",
        "## Minimum norm",
        "",
        *(_norm_lines(records, store) or ["(the rows these need have not run)"]),
        "",
        "## Plots",
        "",
    ]
    for title, path in _sweep_plots(steps, records, root):
        out += ([path, ""] if title == "table" else
                [f"**{title}**", "", f"![{title}]({Path(path).relative_to(root)})", ""])
    for title, rel in (
            ("RKHS norm and test error against label corruption (kernel)",
             "nets/kernel-noise-mnist-gaussian.png"),
            ("Figure 1a: training loss of a network under each corruption",
             "nets/figure1a-cifar10-mlp1x512.png"),
            ("Figure 1b: convergence time against label corruption",
             "nets/figure1b-cifar10-mlp1x512.png"),
            ("Figure 1c: test error against label corruption",
             "nets/figure1c-cifar10-mlp1x512.png")):
        if (root / rel).exists():
            out += [f"**{title}**", "", f"![{title}]({rel})", ""]
    table1 = _table1_rows(store)
    out += ["## Networks: Table 1 (CIFAR-10)", ""]
    out += [markdown_table(("model", "random crop", "weight decay", "labels", "n train",
                            "paper train / test acc (%)", "measured train / test acc (%)"),
                           table1)
            if table1 else "(not run)", "",
            "The paper trains on all 50,000 images on a GPU; on a CPU the runs use class-"
            "balanced subsets (the `n train` column), so test accuracies are far lower while "
            "every model still fits its training labels, random ones included.", ""]
    out += ["## Commands", "", "Each row, on its own:", ""]
    for step in steps:
        record = records.get(step.name)
        if record is not None:
            out.append(f"- `{step.name}`: `{record_command(record)}`")
    out += ["", "## Machine and versions", "", *_environment(records), ""]
    missing = {**{name: f"skipped: {why}" for name, why in result.skipped_reasons.items()},
               **{name: f"failed: {why}" for name, why in result.failed.items()}}
    if missing:
        out += ["## Not in this report", ""]
        out += [f"- `{name}`: {why}" for name, why in missing.items()]
        out.append("")
    return write_text("\n".join(out), root / "REPORT.md")
