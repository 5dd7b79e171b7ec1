"""Many independent pandapower nets (a city's LV grids) as one batched load flow.

Why: solving the 210 LV grids of Hengelo one by one cost ~0.2-0.7 s of
set-up each (a deepcopy and a ``pandapower.runpp`` per grid, to read
pandapower's admittance model) and a Python round trip per grid, per
iteration and per block. Here the nets are concatenated into ONE pandapower
net (disjoint: one ``ext_grid`` per grid, no element joins two grids), whose
model ``pandapower.runpp`` builds once; its non-slack admittance block is
block-diagonal, one block per grid, and each block is factorised on its own.
A whole block of time steps of all grids is then one compiled call
(``numba.prange`` spreads the grids over the cores) that, grid by grid and a
chunk of steps at a time so the working arrays stay in the core's cache,
gathers the injections (from the caller's per-connection arrays when a
:class:`SourceMap` is given), iterates to convergence and reduces the
voltages at once to what is asked for: |V| of chosen buses, loadings of
chosen branches, the slack infeed. No [bus x step] complex array is ever
made.

The iteration is :func:`energy_sim.grid.loadflow.fixed_point`, the same
compiled routine as :class:`energy_sim.grid.loadflow.BatchedLoadFlow` (Z-bus
fixed point; Grainger & Stevenson, *Power System Analysis*, 1994, §8.5) with
the same convergence criterion (largest |ΔP|, |ΔQ| of a grid's non-slack
buses below ``tolerance_mva``, as ``pandapower.runpp``), applied per grid and
per step, so each grid's result equals a standalone
``BatchedLoadFlow(grid_net)`` up to floating-point rounding
(``tests/grid/test_simulate.py`` checks it, and checks against ``runpp``).

Scope: as ``BatchedLoadFlow`` (balanced, constant-power loads, sgens as PQ
injections), and every bus of every net must be supplied (no isolated parts:
generated LV grids are supplied trees).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sps
from numba import types
from numba.extending import intrinsic

from energy_sim.grid.loadflow import (
    DEFAULT_TOLERANCE_MVA,
    BatchedLoadFlow,
    fixed_point,
    no_load_voltages,
    ordered_lu,
)

__all__ = ["MultiNetLoadFlow", "MultiNetResult", "SourceMap", "merge_disjoint_nets"]

#: Steps per grid solved together in one task of the compiled solve (see ``chunk_steps``).
DEFAULT_CHUNK_STEPS = 32
#: Grids handed to a thread at a time (dynamic scheduling of ``numba.prange``).
PARALLEL_GRIDS_PER_TASK = 4

#: Element tables concatenated by :func:`merge_disjoint_nets`, with their bus columns.
_BUS_COLUMNS = {
    "bus": (),
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "ext_grid": ("bus",),
    "load": ("bus",),
    "sgen": ("bus",),
    "storage": ("bus",),
    "shunt": ("bus",),
    "switch": ("bus",),
}


def merge_disjoint_nets(nets: Sequence) -> tuple[object, dict[str, np.ndarray]]:
    """Concatenate independent nets into one net, element order preserved.

    Every table of :data:`_BUS_COLUMNS` is stacked net after net and
    renumbered ``0..n-1``; bus references (and the ``element`` of switches)
    follow. ``pandapower.merge_nets`` does the same pairwise, which is
    quadratic in the number of nets (tens of seconds for a city).

    Parameters
    ----------
    nets : sequence of pandapowerNet
        Nets with the same ``sn_mva`` and ``f_hz``; not modified.

    Returns
    -------
    net : pandapowerNet
        The merged net (a deep copy of ``nets[0]``'s other tables and options).
    offsets : dict of str to ndarray [n_net + 1]
        Per table, where each net's rows start in the merged table.
    """
    first = nets[0]
    for net in nets[1:]:
        if net.sn_mva != first.sn_mva or net.f_hz != first.f_hz:
            raise ValueError(f"nets {first.name!r} and {net.name!r} differ in sn_mva or f_hz; cannot merge")
    unknown = {
        key for net in nets for key, table in net.items()
        if isinstance(table, pd.DataFrame) and len(table) and not key.startswith(("res_", "_", "std_"))
        and key not in _BUS_COLUMNS and key not in ("bus_geodata", "line_geodata")
    }
    if unknown:
        raise NotImplementedError(f"merge_disjoint_nets does not handle the tables {sorted(unknown)}")
    offsets = {key: np.concatenate(([0], np.cumsum([len(net[key]) for net in nets]))) for key in _BUS_COLUMNS}
    tables = {}
    for key, bus_columns in _BUS_COLUMNS.items():
        parts = [net[key] for net in nets if len(net[key])]
        if not parts:
            continue
        # one concat per table, then the references renumbered for all nets at once
        merged = pd.concat(parts, ignore_index=True)
        owner = np.repeat(np.arange(len(nets)), np.diff(offsets[key]))
        for col in bus_columns:
            merged[col] = _positions_in_merged(nets, "bus", merged[col].to_numpy(np.int64), owner, offsets["bus"])
        if key == "switch":
            element = merged["element"].to_numpy(np.int64).copy()
            for et, target in (("b", "bus"), ("l", "line"), ("t", "trafo")):
                sel = (merged["et"] == et).to_numpy()
                element[sel] = _positions_in_merged(nets, target, element[sel], owner[sel], offsets[target])
            merged["element"] = element
        tables[key] = merged
    out = copy.deepcopy(_empty_like(first))
    for key, table in tables.items():
        out[key] = table
    out.name = "merged"
    return out, offsets


def _positions_in_merged(nets, table: str, labels: np.ndarray, owner: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Rows in the merged ``table`` of the elements ``labels`` of nets ``owner``."""
    out = np.empty(labels.size, np.int64)
    # usual case: a net's index is a contiguous range (pandapower numbers 0, 1, 2, ...)
    first = np.array([net[table].index.min() if len(net[table]) else 0 for net in nets], np.int64)
    contiguous = np.array([len(net[table]) == 0 or (net[table].index.is_monotonic_increasing and
                           net[table].index.is_unique and
                           net[table].index.max() - net[table].index.min() + 1 == len(net[table]))
                           for net in nets])
    fast = contiguous[owner]
    out[fast] = labels[fast] - first[owner[fast]] + offsets[owner[fast]]
    for k in np.unique(owner[~fast]):
        sel = ~fast & (owner == k)
        out[sel] = nets[k][table].index.get_indexer(labels[sel]) + offsets[k]
    # a reference to an element the net does not have
    n_rows = np.diff(offsets)[owner]
    bad = (out < offsets[owner]) | (out >= offsets[owner] + n_rows)
    if bad.any():
        k = int(owner[np.argmax(bad)])
        raise ValueError(f"net {nets[k].name!r} refers to {table} {labels[np.argmax(bad)]} it does not have")
    return out


def _empty_like(net):
    """``net`` with every element table emptied (options, std_types kept)."""
    out = copy.copy(net)
    for key in list(out.keys()):
        value = out[key]
        if isinstance(value, pd.DataFrame) and not key.startswith("std_"):
            out[key] = value.iloc[0:0]
    return out


# ---------------------------------------------------------------------------
# compiled kernel


@intrinsic
def _f64_at(typingctx, address):  # pragma: no cover - compiled
    """The float64 pointer at an integer address (of an array the caller keeps alive)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))
    return types.CPointer(types.float64)(types.int64), codegen


@intrinsic
def _f32_at(typingctx, address):  # pragma: no cover - compiled
    """The float32 pointer at an integer address (of an array the caller keeps alive)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))
    return types.CPointer(types.float32)(types.int64), codegen


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _add_source(array, c0, mc, rows, cols, weights, s_re, s_im):  # pragma: no cover - compiled
    """``s[rows[k], c] += weights[k] * array[c0 + c, cols[k]]`` for ``c < mc``.

    A step's row of the source is far from the next step's: the columns are
    walked in the outer loop so a cache line of the source serves its
    neighbouring columns too.
    """
    for k in range(rows.size):
        col = cols[k]
        r = rows[k]
        wr = weights[k].real
        wi = weights[k].imag
        for c in range(mc):
            x = np.float64(array[c0 + c, col])
            s_re[r, c] += wr * x
            s_im[r, c] += wi * x


@numba.njit(cache=True, nogil=True, inline="always")
def _sparse_row_current(acc_re, acc_im, const, lo, hi, rows, ys, vr_, vi_, mc):  # pragma: no cover - compiled
    """``acc = const + sum_k ys[k] * v[rows[k]]`` for entries ``lo .. hi-1``, over the first `mc` columns."""
    for c in range(mc):
        acc_re[c] = const.real
        acc_im[c] = const.imag
    for k in range(lo, hi):
        r = rows[k]
        yr = ys[k].real
        yi = ys[k].imag
        for c in range(mc):
            acc_re[c] += yr * vr_[r, c] - yi * vi_[r, c]
            acc_im[c] += yr * vi_[r, c] + yi * vr_[r, c]


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _solve_grids(row_ptr, l_ptr, l_indptr, l_indices, l_data, u_ptr, u_indptr, u_indices, u_data, u_inv, i_slack,
                 v0, s_const, s_direct, source_address, source_is_f32, source_cols, inj_ptr, inj_row, inj_col,
                 inj_w, tol, max_iteration,
                 chunk_steps, vm_row, br_ptr, end_ptr, end_row, end_y, end_const, end_scale, br_col, ref_ptr,
                 ref_row_ptr, ref_row, ref_y, ref_const, ref_v, ref_s_other, base_mva, n_step,
                 vm_out, loading_out, infeed_out, conv, mis_out, worst_out, its_out):  # pragma: no cover - compiled
    """Every grid's load flow and the quantities read from it, one grid per task.

    Per grid and per chunk of ``chunk_steps`` steps (so the working arrays
    stay in the core's cache): gather the specified injection, run
    :func:`energy_sim.grid.loadflow.fixed_point`, and reduce the voltages to
    what is asked for while they are still in cache: ``|V|`` of the selected
    buses, the loading of the selected branches, the slack infeed. Results of
    steps that did not converge are NaN.

    Injection of row ``r`` at step ``c`` [p.u.]: ``s_const[r] + s_direct[r, c]``
    (when ``s_direct`` has rows), plus, for grid ``g`` and each source array
    ``a`` (C-contiguous [n_step, source_cols[a]], float32 or float64, at
    ``source_address[a]``), ``inj_w[k] * source_a[c, inj_col[k]]`` added to
    local row ``inj_row[k]`` for ``k`` in
    ``inj_ptr[g * n_source + a]:inj_ptr[g * n_source + a + 1]``.

    Branch ``b`` (grid ``g``'s are ``br_ptr[g]:br_ptr[g + 1]``) has two ends
    ``2b`` and ``2b + 1``; an end's current is ``end_const + sum end_y * V[end_row]``
    and its loading ``|I| * end_scale``; the branch's loading, the larger of
    its ends', goes to column ``br_col[b]`` of ``loading_out``. Slack bus ``e``
    (grid ``g``'s are ``ref_ptr[g]:ref_ptr[g + 1]``) supplies
    ``(ref_v conj(ref_const + sum ref_y * V[ref_row]) * base_mva + ref_s_other)``,
    summed per grid into ``infeed_out`` [MVA].
    """
    n_grid = row_ptr.size - 1
    n_source = source_address.size
    has_direct = s_direct.shape[0] > 0
    for g in numba.prange(n_grid):
        r0 = row_ptr[g]
        n = row_ptr[g + 1] - r0
        lx = l_indptr[r0 + g: r0 + n + g + 1]
        ux = u_indptr[r0 + g: r0 + n + g + 1]
        li = l_indices[l_ptr[g]: l_ptr[g + 1]]
        lv = l_data[l_ptr[g]: l_ptr[g + 1]]
        ui = u_indices[u_ptr[g]: u_ptr[g + 1]]
        uv = u_data[u_ptr[g]: u_ptr[g + 1]]
        mc_max = min(chunk_steps, n_step)
        s_re = np.empty(n * mc_max)
        s_im = np.empty(n * mc_max)
        v_re = np.empty(n * mc_max)
        v_im = np.empty(n * mc_max)
        acc_re = np.empty(mc_max)
        acc_im = np.empty(mc_max)
        for c0 in range(0, n_step, chunk_steps):
            mc = min(chunk_steps, n_step - c0)
            # C-contiguous [n, mc] views of the work space
            sr_ = s_re[:n * mc].reshape((n, mc))
            si_ = s_im[:n * mc].reshape((n, mc))
            vr_ = v_re[:n * mc].reshape((n, mc))
            vi_ = v_im[:n * mc].reshape((n, mc))
            # injections: constant part, then the sources step by step (a source row is contiguous)
            for r in range(n):
                sc = s_const[r0 + r]
                for c in range(mc):
                    sr_[r, c] = sc.real
                    si_[r, c] = sc.imag
                if has_direct:
                    for c in range(mc):
                        sd = s_direct[r0 + r, c0 + c]
                        sr_[r, c] += sd.real
                        si_[r, c] += sd.imag
            for src in range(n_source):
                k0 = inj_ptr[g * n_source + src]
                k1 = inj_ptr[g * n_source + src + 1]
                if k1 == k0:
                    continue
                shape = (n_step, source_cols[src])
                if source_is_f32[src]:
                    _add_source(numba.carray(_f32_at(source_address[src]), shape), c0, mc, inj_row[k0:k1],
                                inj_col[k0:k1], inj_w[k0:k1], sr_, si_)
                else:
                    _add_source(numba.carray(_f64_at(source_address[src]), shape), c0, mc, inj_row[k0:k1],
                                inj_col[k0:k1], inj_w[k0:k1], sr_, si_)
            fixed_point(lx, li, lv, ux, ui, uv, u_inv[r0:r0 + n], i_slack[r0:r0 + n], v0[r0:r0 + n], sr_, si_, tol,
                        max_iteration, vr_, vi_, conv[g, c0:c0 + mc], mis_out[g, c0:c0 + mc],
                        worst_out[g, c0:c0 + mc], its_out[g, c0:c0 + mc])
            ok = conv[g, c0:c0 + mc]
            # |V| of the selected buses
            for r in range(n):
                out = vm_row[r0 + r]
                if out < 0:
                    continue
                for c in range(mc):
                    x = np.sqrt(vr_[r, c] * vr_[r, c] + vi_[r, c] * vi_[r, c])
                    vm_out[out, c0 + c] = x if ok[c] else np.nan
            # branch loadings: the larger of the two ends
            for b in range(br_ptr[g], br_ptr[g + 1]):
                col = br_col[b]
                for c in range(mc):
                    loading_out[c0 + c, col] = 0.0
                for e in range(2 * b, 2 * b + 2):
                    _sparse_row_current(acc_re, acc_im, end_const[e], end_ptr[e], end_ptr[e + 1], end_row, end_y,
                                        vr_, vi_, mc)
                    scale = end_scale[e]
                    for c in range(mc):
                        x = np.sqrt(acc_re[c] * acc_re[c] + acc_im[c] * acc_im[c]) * scale
                        if x > loading_out[c0 + c, col]:
                            loading_out[c0 + c, col] = x
                for c in range(mc):
                    if not ok[c]:
                        loading_out[c0 + c, col] = np.nan
            # slack infeed, summed over the grid's slack buses
            for c in range(mc):
                infeed_out[c0 + c, g] = 0.0
            for e in range(ref_ptr[g], ref_ptr[g + 1]):
                _sparse_row_current(acc_re, acc_im, ref_const[e], ref_row_ptr[e], ref_row_ptr[e + 1], ref_row, ref_y,
                                    vr_, vi_, mc)
                vr = ref_v[e].real
                vi = ref_v[e].imag
                so = ref_s_other[e]
                for c in range(mc):
                    # V conj(I)
                    p = (vr * acc_re[c] + vi * acc_im[c]) * base_mva + so.real
                    q = (vi * acc_re[c] - vr * acc_im[c]) * base_mva + so.imag
                    infeed_out[c0 + c, g] += p + 1j * q
            for c in range(mc):
                if not ok[c]:
                    infeed_out[c0 + c, g] = np.nan + 1j * np.nan


# ---------------------------------------------------------------------------


class MultiNetResult:
    """Results of :meth:`MultiNetLoadFlow.solve` for one block of steps.

    Attributes
    ----------
    vm_pu : ndarray [n_selected_bus, n_step]
        Voltage magnitude of the buses chosen at construction (``bus_select``),
        grid after grid [p.u.]; NaN where the grid's step did not converge.
    line_loading_pct : ndarray [n_step, n_selected_line]
        Loading of the chosen lines [%], as pandapower.
    trafo_loading_pct : ndarray [n_step, n_trafo]
        Current-based loading of every transformer, net order [%].
    ext_grid_p_mw, ext_grid_q_mvar : ndarray [n_step, n_net]
        Slack infeed per net, summed over its ext_grids [MW], [Mvar].
    converged, max_mismatch_mva, iterations : ndarray [n_net, n_step]
    max_mismatch_bus : ndarray [n_net, n_step]
        pandapower index (in the net's own bus table) of the worst bus, or -1.
    """

    __slots__ = ("vm_pu", "line_loading_pct", "trafo_loading_pct", "ext_grid_p_mw", "ext_grid_q_mvar",
                 "converged", "max_mismatch_mva", "max_mismatch_bus", "iterations")

    def __init__(self, **values):
        for key, value in values.items():
            setattr(self, key, value)


@dataclass(frozen=True, eq=False)
class SourceMap:
    """How the columns of a list of [n_step, n_col] arrays add up to the bus injections.

    Made by :meth:`MultiNetLoadFlow.source_map`: entries sorted by grid, then
    source array, then column, with the grid-local row each adds to and its
    complex weight [p.u. per unit of the array].
    """

    widths: tuple[int, ...]
    ptr: np.ndarray
    row: np.ndarray
    col: np.ndarray
    weight_pu: np.ndarray


class MultiNetLoadFlow:
    """Batched load flow of many independent nets in one compiled call.

    Parameters
    ----------
    nets : sequence of pandapowerNet
        Independent nets, each with its own ext_grid(s) (e.g. the LV grids of
        a city with the MV side of their transformer as slack); not modified.
    bus_select : sequence of ndarray, optional
        Per net, the pandapower bus indices whose voltage ``solve`` returns;
        default every bus.
    line_select : sequence of ndarray, optional
        Per net, the pandapower line indices whose loading ``solve`` returns;
        default none (computing all 74,000 cable currents of a city costs
        more than the load flow users read them from).
    chunk_steps : int
        Steps solved together per grid and task: the working arrays of a
        grid (about ``8 * 8 * n_bus * chunk_steps`` bytes) should fit the
        core's cache.
    **runpp_kwargs
        Passed to ``pandapower.runpp`` (via ``BatchedLoadFlow``).
    """

    def __init__(self, nets: Sequence, *, bus_select: Sequence[np.ndarray] | None = None,
                 line_select: Sequence[np.ndarray] | None = None, chunk_steps: int = DEFAULT_CHUNK_STEPS,
                 **runpp_kwargs):
        self.n_net = len(nets)
        self.chunk_steps = int(chunk_steps)
        merged, off = merge_disjoint_nets(nets)
        # pandapower's model of the merged net; its non-slack block is factorised grid by grid below.
        model = BatchedLoadFlow(merged, factorisation=None, **runpp_kwargs)
        self.base_mva = model.base_mva
        n_ppci = model._n_ppci
        if np.any(model._bus_ppci >= n_ppci):
            raise NotImplementedError("MultiNetLoadFlow needs every bus supplied; some buses are isolated")
        net_of_bus = np.repeat(np.arange(self.n_net), np.diff(off["bus"]))
        net_of_ppci = np.full(n_ppci, -1, np.int64)
        net_of_ppci[model._bus_ppci] = net_of_bus
        non_ref = model._non_ref
        order = np.argsort(net_of_ppci[non_ref], kind="stable")
        nr_sorted = non_ref[order]  # ppci buses, grid after grid
        self._row_ptr = np.searchsorted(net_of_ppci[nr_sorted], np.arange(self.n_net + 1)).astype(np.int64)
        ybus = model._ybus
        # within each grid, the rows follow the grid's own factor order
        self._nr_sorted = self._factorise_blocks(ybus, nr_sorted)
        nr = self._nr_sorted
        # row in the non-slack vector of each ppci bus (-1 for slack buses)
        self._row_of_ppci = np.full(n_ppci, -1, np.int64)
        self._row_of_ppci[nr] = np.arange(nr.size)

        ref = model._ref
        self._ref = ref
        self._v_ref = model._v_ref
        self._i_slack = -(ybus[nr][:, ref] @ self._v_ref)
        self._v0 = np.empty(nr.size, np.complex128)
        for g in range(self.n_net):
            r0, r1 = self._row_ptr[g], self._row_ptr[g + 1]
            self._v0[r0:r1] = no_load_voltages(self._block_factors(g), self._i_slack[r0:r1])

        # injections: per-element incidence restricted to the non-slack buses
        self._c_load = model._c_load[nr].tocsr()
        self._c_sgen = model._c_sgen[nr].tocsr()
        self._s_const_pu = np.ascontiguousarray(-model._s_other_mva[nr] / self.base_mva)
        self.n_load, self.n_sgen = model.load_index.size, model.sgen_index.size

        # slack infeed per net: s_eg = v_ref conj(Y[ref] v) - s_ref
        if model._c_load[ref].nnz or model._c_sgen[ref].nnz:
            raise NotImplementedError("MultiNetLoadFlow does not model loads or sgens at slack buses")
        net_of_ref = net_of_ppci[ref]
        if np.any(np.diff(net_of_ref) < 0):
            raise NotImplementedError("the slack buses are not in net order")
        self._ref_ptr = np.searchsorted(net_of_ref, np.arange(self.n_net + 1)).astype(np.int64)
        y_ref_l = ybus[ref][:, nr].tocsr()
        y_ref_l.sort_indices()
        self._ref_rows = (y_ref_l.indptr.astype(np.int64), self._local_rows(y_ref_l.indices, net_of_ref, y_ref_l),
                          y_ref_l.data.astype(np.complex128))
        self._ref_const = (ybus[ref][:, ref] @ self._v_ref).astype(np.complex128)
        self._ref_s_other = model._s_other_mva[ref].astype(np.complex128)

        # voltages of the chosen buses
        if bus_select is None:
            bus_select = [net.bus.index.to_numpy() for net in nets]
        merged_bus = np.concatenate([
            nets[k].bus.index.get_indexer(np.asarray(b)) + off["bus"][k] for k, b in enumerate(bus_select)])
        ppci_bus = model._bus_ppci[merged_bus]
        rows = self._row_of_ppci[ppci_bus]
        self._vm_row = np.full(nr.size, -1, np.int64)
        self._vm_row[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
        self.n_bus_selected = rows.size
        # slack buses among them hold the ext_grid set point
        self._bus_slack = np.flatnonzero(rows < 0)
        ref_pos = np.full(n_ppci, -1, np.int64)
        ref_pos[ref] = np.arange(ref.size)
        self._bus_slack_vm = np.abs(self._v_ref[ref_pos[ppci_bus[self._bus_slack]]])
        self._bus_net = np.repeat(np.arange(self.n_net), [len(b) for b in bus_select])
        # names of buses for messages: ppci row -> the net's own bus index
        first_pd = np.full(n_ppci, -1, np.int64)
        all_bus_pd = np.concatenate([net.bus.index.to_numpy() for net in nets])
        first_pd[model._bus_ppci[::-1]] = all_bus_pd[::-1]
        self._row_pd = first_pd[nr]

        # branches: the chosen lines, then every transformer; columns of the kernel's loading output
        line_sel = [np.zeros(0, np.int64)] * self.n_net if line_select is None else line_select
        merged_line = np.concatenate([
            nets[k].line.index.get_indexer(np.asarray(l)) + off["line"][k] for k, l in enumerate(line_sel)
        ] or [np.zeros(0, np.int64)]).astype(np.int64)
        self.n_line_selected = merged_line.size
        self.n_trafo = model.trafo_index.size
        line_net = np.repeat(np.arange(self.n_net), [len(l) for l in line_sel]).astype(np.int64)
        trafo_net = np.repeat(np.arange(self.n_net), np.diff(off["trafo"])).astype(np.int64)
        # line: max(|I_f|, |I_t|) [kA] / (max_i_ka df parallel) * 100
        line_ends = self._branch_ends(model, model._line, merged_line, [100.0 / model._line_i_max_ka[merged_line]] * 2)
        # trafo: max(|I_hv| vn_hv, |I_lv| vn_lv) [kA kV] sqrt(3) / sn / (parallel df) * 100
        t_scale = np.sqrt(3.0) * 100.0 / (model._trafo_sn_mva * model._trafo_par_df)
        trafo_ends = self._branch_ends(model, model._trafo, np.arange(self.n_trafo),
                                       [model._trafo_vn_kv[0] * t_scale, model._trafo_vn_kv[1] * t_scale])
        self._branches = self._concat_branches(line_ends, line_net, trafo_ends, trafo_net)
        self.offsets = off

    @property
    def c_load(self) -> sps.csr_matrix:
        """[n_L, n_load] incidence (scaling, in_service) of the merged loads: ``S_L -= C @ (p + jq)``."""
        return self._c_load

    @property
    def c_sgen(self) -> sps.csr_matrix:
        """[n_L, n_sgen] incidence of the merged sgens: ``S_L += C @ (p + jq)``."""
        return self._c_sgen

    # ------------------------------------------------------------------
    def _factorise_blocks(self, ybus, nr_sorted: np.ndarray) -> np.ndarray:
        """Factorise each grid's diagonal block (:func:`ordered_lu`); return the rows in factor order."""
        rp = self._row_ptr
        y_ll = ybus[nr_sorted][:, nr_sorted].tocsc()
        # the blocks must not couple: every non-zero lies inside its own block
        coo = y_ll.tocoo()
        block_of_row = np.repeat(np.arange(self.n_net), np.diff(rp))
        if np.any(block_of_row[coo.row] != block_of_row[coo.col]):
            raise ValueError("the nets are not independent: their admittance blocks are coupled")
        parts = [[] for _ in range(7)]
        l_ptr, u_ptr = [0], [0]
        rows = nr_sorted.copy()
        for g in range(self.n_net):
            r0, r1 = rp[g], rp[g + 1]
            order, factors = ordered_lu(y_ll[r0:r1, r0:r1])
            rows[r0:r1] = nr_sorted[r0:r1][order]
            for part, array in zip(parts, factors):
                part.append(array)
            l_ptr.append(l_ptr[-1] + factors[1].size)
            u_ptr.append(u_ptr[-1] + factors[4].size)
        l_indptr, l_indices, l_data, u_indptr, u_indices, u_data, u_inv = (np.concatenate(p) for p in parts)
        self._lu = (np.asarray(rp, np.int64), np.asarray(l_ptr, np.int64), l_indptr, l_indices, l_data,
                    np.asarray(u_ptr, np.int64), u_indptr, u_indices, u_data, u_inv)
        return rows

    def _block_factors(self, g: int) -> tuple[np.ndarray, ...]:
        """Grid ``g``'s factors in the layout of :func:`ordered_lu`."""
        rp, l_ptr, l_indptr, l_indices, l_data, u_ptr, u_indptr, u_indices, u_data, u_inv = self._lu
        r0, r1 = rp[g], rp[g + 1]
        return (l_indptr[r0 + g:r1 + g + 1], l_indices[l_ptr[g]:l_ptr[g + 1]], l_data[l_ptr[g]:l_ptr[g + 1]],
                u_indptr[r0 + g:r1 + g + 1], u_indices[u_ptr[g]:u_ptr[g + 1]], u_data[u_ptr[g]:u_ptr[g + 1]],
                u_inv[r0:r1])

    def _local_rows(self, columns: np.ndarray, net_of_row: np.ndarray, matrix: sps.csr_matrix) -> np.ndarray:
        """Non-slack columns of a CSR matrix as rows local to the grid of each matrix row."""
        net = np.repeat(net_of_row, np.diff(matrix.indptr))
        local = columns - self._row_ptr[net]
        if np.any((local < 0) | (columns >= self._row_ptr[net + 1])):
            raise ValueError("a branch or slack bus couples two nets")
        return local.astype(np.int64)

    def _branch_ends(self, model, matrices, merged_rows, factors):
        """Both ends of chosen branches: Y rows on non-slack buses, slack current, loading factor."""
        n_br = merged_rows.size
        if matrices is None or n_br == 0:
            return None
        ok, yf, yt, kv_f, kv_t, _ = matrices
        if not ok[merged_rows].all():
            raise NotImplementedError("out-of-service branches are not supported by MultiNetLoadFlow")
        sel = (np.cumsum(ok) - 1)[merged_rows]
        ends = []
        for y, kv, factor in ((yf, kv_f, factors[0]), (yt, kv_t, factors[1])):
            ys = y[sel]
            # |I| [p.u.] * baseMVA / (sqrt(3) * base kV) = kA (pandapower results_branch._get_branch_flows)
            scale = self.base_mva / (np.sqrt(3.0) * kv[sel]) * factor
            ends.append((ys[:, self._nr_sorted].tocsr(), ys[:, self._ref] @ self._v_ref, scale))
        return ends

    def _concat_branches(self, line_ends, line_net, trafo_ends, trafo_net):
        """Kernel layout of all chosen branches, grouped by net (lines, then trafos, of each net)."""
        groups = [(e, net, col0) for e, net, col0 in ((line_ends, line_net, 0), (trafo_ends, trafo_net,
                                                                                 self.n_line_selected))
                  if e is not None]
        if not groups:
            z_i, z_c = np.zeros(0, np.int64), np.zeros(0, np.complex128)
            return (np.zeros(self.n_net + 1, np.int64), np.zeros(1, np.int64), z_i, z_c, z_c, np.zeros(0), z_i)
        net_of = np.concatenate([net for _, net, _ in groups])
        col_of = np.concatenate([col0 + np.arange(net.size) for _, net, col0 in groups])
        order = np.argsort(net_of, kind="stable")
        br_ptr = np.searchsorted(net_of[order], np.arange(self.n_net + 1)).astype(np.int64)
        # interleave ends: branch b -> ends 2b (from), 2b + 1 (to)
        y_f = sps.vstack([e[0][0] for e, _, _ in groups]).tocsr()[order]
        y_t = sps.vstack([e[1][0] for e, _, _ in groups]).tocsr()[order]
        n_br = order.size
        stacked = sps.vstack([y_f, y_t]).tocsr()
        ends = np.empty(2 * n_br, np.int64)
        ends[0::2] = np.arange(n_br)
        ends[1::2] = n_br + np.arange(n_br)
        y_ends = stacked[ends].tocsr()
        y_ends.sort_indices()
        net_of_end = np.repeat(net_of[order], 2)
        const = np.empty(2 * n_br, np.complex128)
        const[0::2] = np.concatenate([e[0][1] for e, _, _ in groups])[order]
        const[1::2] = np.concatenate([e[1][1] for e, _, _ in groups])[order]
        scale = np.empty(2 * n_br)
        scale[0::2] = np.concatenate([e[0][2] for e, _, _ in groups])[order]
        scale[1::2] = np.concatenate([e[1][2] for e, _, _ in groups])[order]
        return (br_ptr, y_ends.indptr.astype(np.int64), self._local_rows(y_ends.indices, net_of_end, y_ends),
                y_ends.data.astype(np.complex128), const, scale, col_of[order].astype(np.int64))

    def source_map(self, c_pu: sps.spmatrix, widths: Sequence[int]) -> SourceMap:
        """Prepare :meth:`solve`'s ``sources``: arrays whose columns add up to the bus injections.

        Parameters
        ----------
        c_pu : sparse matrix [n_L, sum(widths)] complex
            Injection at each non-slack row per unit of each column of the
            sources, side by side [p.u. per unit of the source], e.g.
            ``-c_load`` / 1000 / ``base_mva`` for loads given in kW.
        widths : sequence of int
            Columns of each source array.
        """
        c = sps.csr_matrix(c_pu, dtype=np.complex128)
        c.sum_duplicates()
        c.eliminate_zeros()
        widths = tuple(int(w) for w in widths)
        if c.shape != (self._nr_sorted.size, sum(widths)):
            raise ValueError(f"c_pu must have shape ({self._nr_sorted.size}, {sum(widths)}), got {c.shape}")
        coo = c.tocoo()
        starts = np.concatenate(([0], np.cumsum(widths)))
        source = np.searchsorted(starts, coo.col, side="right") - 1
        grid = np.searchsorted(self._row_ptr, coo.row, side="right") - 1
        col = coo.col - starts[source]
        key = grid * len(widths) + source
        order = np.lexsort((coo.row, col, key))
        ptr = np.searchsorted(key[order], np.arange(self.n_net * len(widths) + 1))
        return SourceMap(widths, ptr.astype(np.int64), (coo.row - self._row_ptr[grid])[order].astype(np.int64),
                         col[order].astype(np.int64), coo.data[order].astype(np.complex128))

    # ------------------------------------------------------------------
    def solve(self, s_mva: np.ndarray | None = None, *, sources: Sequence[np.ndarray] = (),
              source_map: SourceMap | None = None, tolerance_mva: float = DEFAULT_TOLERANCE_MVA,
              max_iteration: int = 100, vm_out: np.ndarray | None = None) -> MultiNetResult:
        """Solve one block of steps for all nets.

        Parameters
        ----------
        s_mva : ndarray [n_L, n_step] complex, optional
            Specified injection (generation - consumption) at every non-slack
            bus in the row order of :attr:`c_load` [MVA]; build it with those
            matrices (``C_sgen @ sgen - C_load @ load``).
        sources : sequence of ndarray [n_step, n_col]
            Instead of (or added to) ``s_mva``: arrays whose columns
            ``source_map`` adds up to the injections (e.g. per-home power
            [kW]), read inside the compiled solve without intermediate arrays.
        source_map : SourceMap
            From :meth:`source_map`; required with ``sources``.
        tolerance_mva : float
            Convergence limit per net and step [MVA] (default as ``runpp``).
        max_iteration : int
            Iteration limit; steps above the tolerance are flagged.
        vm_out : ndarray [n_selected_bus, n_step], optional
            Where to write ``vm_pu`` (a buffer reused from block to block).
        """
        if s_mva is None and source_map is None:
            raise ValueError("give s_mva or sources with their source_map")
        if s_mva is not None:
            s_direct = np.ascontiguousarray(s_mva / self.base_mva, dtype=np.complex128)
            m = s_direct.shape[1]
        else:
            s_direct = np.zeros((0, 0), np.complex128)
            m = None
        # Sources go to the kernel as addresses (kept alive by `arrays`), float32 or float64 as they
        # come: one compiled signature whatever the number of sources, and no copies.
        arrays = []
        if source_map is not None:
            if len(sources) != len(source_map.widths):
                raise ValueError(f"expected {len(source_map.widths)} source arrays, got {len(sources)}")
            for k, (a, width) in enumerate(zip(sources, source_map.widths)):
                a = np.asarray(a)
                if a.dtype not in (np.float32, np.float64):
                    a = a.astype(np.float64)
                a = np.ascontiguousarray(a)
                if m is None:
                    m = a.shape[0]
                if a.shape != (m, width):
                    raise ValueError(f"source {k} must have shape ({m}, {width}), got {a.shape}")
                arrays.append(a)
            inj = (source_map.ptr, source_map.row, source_map.col, source_map.weight_pu)
        else:
            inj = (np.zeros(self.n_net + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.zeros(0, np.complex128))
            arrays.append(np.zeros((m, 0)))
        source_args = (np.array([a.ctypes.data for a in arrays], np.int64),
                       np.array([a.dtype == np.float32 for a in arrays], np.bool_),
                       np.array([a.shape[1] for a in arrays], np.int64))
        n_sel = self.n_bus_selected
        if vm_out is None or vm_out.shape != (n_sel, m):
            vm_out = np.empty((n_sel, m))
        loading = np.empty((m, self.n_line_selected + self.n_trafo))
        infeed = np.empty((m, self.n_net), np.complex128)
        conv = np.zeros((self.n_net, m), np.bool_)
        mis = np.zeros((self.n_net, m))
        worst = np.full((self.n_net, m), -1, np.int64)
        its = np.zeros((self.n_net, m), np.int64)
        # hand the grids out a few at a time, not in one static slice per thread: on a shared
        # machine a thread that loses its core would otherwise hold up the whole block
        chunk = numba.set_parallel_chunksize(PARALLEL_GRIDS_PER_TASK)
        try:
            _solve_grids(*self._lu, self._i_slack, self._v0, self._s_const_pu, s_direct, *source_args, *inj,
                         tolerance_mva / self.base_mva, max_iteration, self.chunk_steps, self._vm_row,
                         *self._branches, self._ref_ptr, *self._ref_rows, self._ref_const, self._v_ref,
                         self._ref_s_other, self.base_mva, m, vm_out, loading, infeed, conv, mis, worst, its)
        finally:
            numba.set_parallel_chunksize(chunk)
        if self._bus_slack.size:
            vm_out[self._bus_slack] = self._bus_slack_vm[:, None]
            bad = ~conv[self._bus_net[self._bus_slack]]
            vm_out[self._bus_slack] = np.where(bad, np.nan, vm_out[self._bus_slack])
        worst_pd = np.where(worst >= 0, self._row_pd[self._row_ptr[:-1, None] + np.maximum(worst, 0)], -1)
        return MultiNetResult(
            vm_pu=vm_out, line_loading_pct=loading[:, :self.n_line_selected],
            trafo_loading_pct=loading[:, self.n_line_selected:], ext_grid_p_mw=infeed.real,
            ext_grid_q_mvar=infeed.imag, converged=conv, max_mismatch_mva=mis * self.base_mva,
            max_mismatch_bus=worst_pd, iterations=its)
