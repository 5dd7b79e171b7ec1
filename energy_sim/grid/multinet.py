"""Many independent pandapower nets (a city's LV grids) as one batched load flow.

Why: solving the 210 LV grids of Hengelo one by one cost ~0.2-0.7 s of
set-up each (a deepcopy and a ``pandapower.runpp`` per grid, to read
pandapower's admittance model) and a Python round trip per grid, per
iteration and per block. Here the nets are concatenated into ONE pandapower
net (disjoint: one ``ext_grid`` per grid, no element joins two grids), whose
model ``pandapower.runpp`` builds once; its non-slack admittance block is
block-diagonal, one block per grid, and each block is factorised on its own.
A whole block of time steps of all grids is then one compiled call that
iterates every grid to convergence while its working arrays stay in cache
(``numba.prange`` spreads the grids over the cores).

The iteration, the convergence criterion (largest |ΔP|, |ΔQ| of a grid's
non-slack buses below ``tolerance_mva``, as ``pandapower.runpp``) and the
bookkeeping of non-converged steps are exactly those of
:class:`energy_sim.grid.loadflow.BatchedLoadFlow` (Z-bus fixed point;
Grainger & Stevenson, *Power System Analysis*, 1994, §8.5), applied per grid
and per step, so each grid's result equals a standalone
``BatchedLoadFlow(grid_net)`` up to floating-point rounding
(``tests/grid/test_simulate.py`` checks it, and checks against ``runpp``).

Scope: as ``BatchedLoadFlow`` (balanced, constant-power loads, sgens as PQ
injections), and every bus of every net must be supplied (no isolated parts:
generated LV grids are supplied trees).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from energy_sim.grid.loadflow import DEFAULT_TOLERANCE_MVA, BatchedLoadFlow, _mismatch_and_next_current

__all__ = ["MultiNetLoadFlow", "MultiNetResult", "merge_disjoint_nets"]

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
    bus_pos = [net.bus.index for net in nets]
    offsets = {key: np.concatenate(([0], np.cumsum([len(net[key]) for net in nets]))) for key in _BUS_COLUMNS}
    tables = {}
    for key, bus_columns in _BUS_COLUMNS.items():
        parts = []
        for k, net in enumerate(nets):
            table = net[key]
            if not len(table):
                continue
            table = table.copy()
            for col in bus_columns:
                table[col] = bus_pos[k].get_indexer(table[col]) + offsets["bus"][k]
            if key == "switch":
                element = table["element"].to_numpy(np.int64).copy()
                for et, target in (("b", "bus"), ("l", "line"), ("t", "trafo")):
                    sel = (table["et"] == et).to_numpy()
                    element[sel] = net[target].index.get_indexer(element[sel]) + offsets[target][k]
                table["element"] = element
            parts.append(table)
        if parts:
            merged = pd.concat(parts, ignore_index=True)
            tables[key] = merged
    out = copy.deepcopy(_empty_like(first))
    for key, table in tables.items():
        out[key] = table
    out.name = "merged"
    return out, offsets


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


@numba.njit(cache=True, nogil=True)
def _solve_one(n, li, lx, lv, ui, ux, uv, u_inv, pr, pc, v0, s, tol, max_it,
               v_out, conv, mis_out, worst_out, its_out):  # pragma: no cover - compiled
    """Fixed point of one grid for all steps; mirrors ``BatchedLoadFlow._iterate``.

    ``s`` [n, m] is the grid's non-slack injection [p.u.]; results are written
    into ``v_out`` [n, m] and the per-step arrays. Steps leave the active set
    when converged (mismatch < ``tol``) or blown up (non-finite), keeping the
    mismatch of the last finite iterate, exactly as the Python version.
    """
    m = s.shape[1]
    s_a = s.copy()
    i_a = np.empty((n, m), np.complex128)
    for r in range(n):
        for c in range(m):
            i_a[r, c] = np.conj(s_a[r, c] / v0[r])
    y = np.empty((n, m), np.complex128)
    x = np.empty((n, m), np.complex128)
    active = np.arange(m)
    prev_mis = np.full(m, np.inf)
    prev_worst = np.full(m, -1, np.int64)
    mis = np.zeros(m)
    worst = np.zeros(m, np.int64)
    ma = m
    for it in range(1, max_it + 1):
        # x = Y_LL^-1 i_a (SuperLU factors, as _lu_solve_many)
        for r in range(n):
            pri = pr[r]
            for c in range(ma):
                y[pri, c] = i_a[r, c]
        for j in range(n):
            for k in range(lx[j], lx[j + 1]):
                r = li[k]
                if r > j:
                    lij = lv[k]
                    for c in range(ma):
                        y[r, c] -= lij * y[j, c]
        for j in range(n - 1, -1, -1):
            inv = u_inv[j]
            for c in range(ma):
                y[j, c] *= inv
            for k in range(ux[j], ux[j + 1]):
                r = ui[k]
                if r < j:
                    uij = uv[k]
                    for c in range(ma):
                        y[r, c] -= uij * y[j, c]
        for r in range(n):
            pcr = pc[r]
            for c in range(ma):
                x[r, c] = y[pcr, c]
        # fused: x += v0; mismatch; next current (the same step as BatchedLoadFlow)
        mis_a, worst_a = _mismatch_and_next_current(x[:, :ma], s_a[:, :ma], i_a[:, :ma], v0)
        mis[:ma] = mis_a
        worst[:ma] = worst_a
        # retire finished steps, compact the rest to the front
        keep = 0
        for c in range(ma):
            finite = np.isfinite(mis[c])
            ok = mis[c] < tol
            if ok or not finite or it == max_it:
                col = active[c]
                for r in range(n):
                    v_out[r, col] = x[r, c]
                mis_out[col] = mis[c] if finite else prev_mis[c]
                worst_out[col] = worst[c] if finite else prev_worst[c]
                its_out[col] = it
                conv[col] = ok
            else:
                if keep != c:
                    for r in range(n):
                        s_a[r, keep] = s_a[r, c]
                        i_a[r, keep] = i_a[r, c]
                    active[keep] = active[c]
                prev_mis[keep] = mis[c]
                prev_worst[keep] = worst[c]
                keep += 1
        ma = keep
        if ma == 0:
            break


@numba.njit(cache=True, parallel=True)
def _solve_all(row_ptr, l_ptr, l_indptr, l_indices, l_data, u_ptr, u_indptr, u_indices, u_data,
               u_inv, perm_r, perm_c, v0, s, tol, max_it, v_out, conv, mis_out, worst_out,
               its_out):  # pragma: no cover - compiled
    """Every grid's fixed point; grids are independent, so they run in parallel."""
    n_grid = row_ptr.size - 1
    for g in numba.prange(n_grid):
        r0 = row_ptr[g]
        r1 = row_ptr[g + 1]
        n = r1 - r0
        if n == 0:
            for c in range(s.shape[1]):
                conv[g, c] = True
            continue
        lx = l_indptr[r0 + g: r1 + g + 1]
        ux = u_indptr[r0 + g: r1 + g + 1]
        li = l_indices[l_ptr[g]: l_ptr[g + 1]]
        lv = l_data[l_ptr[g]: l_ptr[g + 1]]
        ui = u_indices[u_ptr[g]: u_ptr[g + 1]]
        uv = u_data[u_ptr[g]: u_ptr[g + 1]]
        _solve_one(n, li, lx, lv, ui, ux, uv, u_inv[r0:r1], perm_r[r0:r1], perm_c[r0:r1], v0[r0:r1],
                   s[r0:r1], tol, max_it, v_out[r0:r1], conv[g], mis_out[g], worst_out[g], its_out[g])


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
    **runpp_kwargs
        Passed to ``pandapower.runpp`` (via ``BatchedLoadFlow``).
    """

    def __init__(self, nets: Sequence, *, bus_select: Sequence[np.ndarray] | None = None,
                 line_select: Sequence[np.ndarray] | None = None, **runpp_kwargs):
        self.n_net = len(nets)
        merged, off = merge_disjoint_nets(nets)
        # pandapower's model of the merged net; its own factorisation is replaced below.
        model = BatchedLoadFlow(merged, factorisation="sparse", **runpp_kwargs)
        self.base_mva = model.base_mva
        n_ppci = model._n_ppci
        if np.any(model._bus_ppci >= n_ppci):
            raise NotImplementedError("MultiNetLoadFlow needs every bus supplied; some buses are isolated")
        net_of_bus = np.repeat(np.arange(self.n_net), np.diff(off["bus"]))
        net_of_ppci = np.full(n_ppci, -1, np.int64)
        net_of_ppci[model._bus_ppci] = net_of_bus
        non_ref = model._non_ref
        order = np.argsort(net_of_ppci[non_ref], kind="stable")
        self._nr_sorted = non_ref[order]  # ppci buses, grid after grid
        self._row_ptr = np.searchsorted(net_of_ppci[self._nr_sorted], np.arange(self.n_net + 1)).astype(np.int64)
        # row in the sorted non-slack vector of each ppci bus (-1 for slack buses)
        self._row_of_ppci = np.full(n_ppci, -1, np.int64)
        self._row_of_ppci[self._nr_sorted] = np.arange(self._nr_sorted.size)

        ybus = model._ybus
        y_ll = ybus[self._nr_sorted][:, self._nr_sorted].tocsc()
        self._factorise_blocks(y_ll)
        ref = model._ref
        self._ref = ref
        self._v_ref = model._v_ref
        y_ls = ybus[self._nr_sorted][:, ref]
        # no-load voltages from the block factors (equal to the merged solve)
        self._v0 = self._apply_z(-(y_ls @ self._v_ref))

        # injections: per-element incidence restricted to the sorted non-slack buses
        self._c_load = model._c_load[self._nr_sorted].tocsr()
        self._c_sgen = model._c_sgen[self._nr_sorted].tocsr()
        self._s_other = model._s_other_mva[self._nr_sorted]
        self.n_load, self.n_sgen = model.load_index.size, model.sgen_index.size

        # slack infeed per net: s_eg = v_ref conj(Y[ref] v) - s_ref
        self._y_ref_l = ybus[ref][:, self._nr_sorted].tocsr()
        self._y_ref_s = ybus[ref][:, ref].toarray()
        if model._c_load[ref].nnz or model._c_sgen[ref].nnz:
            raise NotImplementedError("MultiNetLoadFlow does not model loads or sgens at slack buses")
        self._s_other_ref = model._s_other_mva[ref]
        net_of_ref = net_of_ppci[ref]
        self._ref_to_net = sps.csr_matrix((np.ones(ref.size), (net_of_ref, np.arange(ref.size))),
                                          shape=(self.n_net, ref.size))

        # voltages of the chosen buses
        if bus_select is None:
            bus_select = [net.bus.index.to_numpy() for net in nets]
        merged_bus = np.concatenate([
            nets[k].bus.index.get_indexer(np.asarray(b)) + off["bus"][k] for k, b in enumerate(bus_select)])
        ppci_bus = model._bus_ppci[merged_bus]
        rows = self._row_of_ppci[ppci_bus]
        self._bus_rows = rows
        # the usual case (all non-slack buses, ppci order = net order): no gather needed
        self._bus_rows_identity = bool(np.array_equal(rows, np.arange(self._nr_sorted.size)))
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
        self._row_pd = first_pd[self._nr_sorted]

        # branches
        line_sel = [] if line_select is None else line_select
        merged_line = np.concatenate([
            nets[k].line.index.get_indexer(np.asarray(l)) + off["line"][k] for k, l in enumerate(line_sel)
        ] or [np.zeros(0, np.int64)]).astype(np.int64)
        self._line_branch = self._branch(model, model._line, merged_line)
        self._line_i_max_ka = model._line_i_max_ka[merged_line]
        self._line_net = np.repeat(np.arange(self.n_net), [len(l) for l in line_sel]).astype(np.int64)
        self._trafo_net = np.repeat(np.arange(self.n_net), np.diff(off["trafo"]))
        self._trafo_branch = self._branch(model, model._trafo, np.arange(model.trafo_index.size))
        self._trafo_vn_kv = model._trafo_vn_kv
        self._trafo_sn_mva = model._trafo_sn_mva
        self._trafo_par_df = model._trafo_par_df
        self.n_trafo = model.trafo_index.size
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
    def _factorise_blocks(self, y_ll) -> None:
        """SuperLU of each grid's diagonal block, concatenated for the kernel."""
        rp = self._row_ptr
        n_total = y_ll.shape[0]
        # the blocks must not couple: every non-zero lies inside its own block
        coo = y_ll.tocoo()
        block_of_row = np.repeat(np.arange(self.n_net), np.diff(rp))
        if np.any(block_of_row[coo.row] != block_of_row[coo.col]):
            raise ValueError("the nets are not independent: their admittance blocks are coupled")
        l_indptr, l_indices, l_data, u_indptr, u_indices, u_data = [], [], [], [], [], []
        l_ptr, u_ptr = [0], [0]
        u_inv = np.empty(n_total, np.complex128)
        perm_r = np.empty(n_total, np.int64)
        perm_c = np.empty(n_total, np.int64)
        for g in range(self.n_net):
            r0, r1 = rp[g], rp[g + 1]
            if r1 == r0:
                l_indptr.append(np.zeros(1, np.int64))
                u_indptr.append(np.zeros(1, np.int64))
                l_ptr.append(l_ptr[-1])
                u_ptr.append(u_ptr[-1])
                continue
            block = y_ll[r0:r1, r0:r1].tocsc()
            # Minimum degree on A^T + A, as BatchedLoadFlow: (near) zero fill-in on radial grids.
            lu = spla.splu(block, permc_spec="MMD_AT_PLUS_A")
            lf, uf = lu.L.tocsc(), lu.U.tocsc()
            lf.sort_indices()
            uf.sort_indices()
            l_indptr.append(lf.indptr.astype(np.int64))
            l_indices.append(lf.indices.astype(np.int64))
            l_data.append(lf.data.astype(np.complex128))
            u_indptr.append(uf.indptr.astype(np.int64))
            u_indices.append(uf.indices.astype(np.int64))
            u_data.append(uf.data.astype(np.complex128))
            l_ptr.append(l_ptr[-1] + lf.nnz)
            u_ptr.append(u_ptr[-1] + uf.nnz)
            u_inv[r0:r1] = 1.0 / uf.diagonal()
            perm_r[r0:r1] = lu.perm_r
            perm_c[r0:r1] = lu.perm_c
        self._lu = (np.asarray(rp, np.int64), np.asarray(l_ptr, np.int64), np.concatenate(l_indptr),
                    np.concatenate(l_indices), np.concatenate(l_data), np.asarray(u_ptr, np.int64),
                    np.concatenate(u_indptr), np.concatenate(u_indices), np.concatenate(u_data),
                    u_inv, perm_r, perm_c)

    def _apply_z(self, rhs: np.ndarray) -> np.ndarray:
        """``Y_LL^-1 rhs`` block by block (no-load voltages) [n_L]."""
        rp = self._lu[0]
        out = np.empty(rhs.shape[0], np.complex128)
        (_, l_ptr, l_indptr, l_indices, l_data, u_ptr, u_indptr, u_indices, u_data, u_inv, pr, pc) = self._lu
        for g in range(self.n_net):
            r0, r1 = rp[g], rp[g + 1]
            n = r1 - r0
            if n == 0:
                continue
            lf = sps.csc_matrix((l_data[l_ptr[g]:l_ptr[g + 1]], l_indices[l_ptr[g]:l_ptr[g + 1]],
                                 l_indptr[r0 + g:r1 + g + 1]), shape=(n, n))
            uf = sps.csc_matrix((u_data[u_ptr[g]:u_ptr[g + 1]], u_indices[u_ptr[g]:u_ptr[g + 1]],
                                 u_indptr[r0 + g:r1 + g + 1]), shape=(n, n))
            b = np.empty(n, np.complex128)
            b[pr[r0:r1]] = rhs[r0:r1]
            y = spla.spsolve_triangular(uf.tocsr(), spla.spsolve_triangular(lf.tocsr(), b, lower=True),
                                        lower=False)
            out[r0 + np.arange(n)] = y[pc[r0:r1]]
        return out

    def _branch(self, model, matrices, merged_rows):
        """Yf/Yt rows of chosen branches, split into non-slack and slack columns."""
        if matrices is None or merged_rows.size == 0:
            return None
        ok, yf, yt, kv_f, kv_t, _ = matrices
        if not ok[merged_rows].all():
            raise NotImplementedError("out-of-service branches are not supported by MultiNetLoadFlow")
        pos = np.cumsum(ok) - 1
        sel = pos[merged_rows]
        out = []
        for y, kv in ((yf, kv_f), (yt, kv_t)):
            ys = y[sel]
            out.append((ys[:, self._nr_sorted].tocsr(), ys[:, self._ref].tocsr(),
                        self.base_mva / (np.sqrt(3.0) * kv[sel])))
        return out

    def _branch_i_ka(self, v, branch) -> np.ndarray:
        """max(|I_from|, |I_to|) per chosen branch [kA], [n_branch, m]."""
        i_ka = []
        for y_l, y_s, scale in branch:
            i = y_l @ v + (y_s @ self._v_ref)[:, None]
            i_ka.append(np.abs(i) * scale[:, None])
        return i_ka

    # ------------------------------------------------------------------
    def solve(self, s_mva: np.ndarray, *, tolerance_mva: float = DEFAULT_TOLERANCE_MVA,
              max_iteration: int = 100) -> MultiNetResult:
        """Solve one block of steps for all nets.

        Parameters
        ----------
        s_mva : ndarray [n_L, n_step] complex
            Specified injection (generation - consumption) at every non-slack
            bus in the order of :meth:`injection_matrices` [MVA]; build it with
            those matrices (``C_sgen @ sgen - C_load @ load``).
        tolerance_mva : float
            Convergence limit per net and step [MVA] (default as ``runpp``).
        max_iteration : int
            Iteration limit; steps above the tolerance are flagged.
        """
        m = s_mva.shape[1]
        s_pu = np.ascontiguousarray((s_mva - self._s_other[:, None]) / self.base_mva)
        n_l = s_pu.shape[0]
        v = np.empty((n_l, m), np.complex128)
        conv = np.zeros((self.n_net, m), np.bool_)
        mis = np.zeros((self.n_net, m))
        worst = np.full((self.n_net, m), -1, np.int64)
        its = np.zeros((self.n_net, m), np.int64)
        _solve_all(*self._lu, self._v0, s_pu, tolerance_mva / self.base_mva, max_iteration, v, conv, mis,
                   worst, its)

        vm = np.abs(v) if self._bus_rows_identity else np.abs(v[self._bus_rows])
        vm[self._bus_slack] = self._bus_slack_vm[:, None]
        bad = ~conv
        if bad.any():
            vm[bad[self._bus_net]] = np.nan
        line = np.zeros((m, 0))
        if self._line_branch is not None:
            i_f, i_t = self._branch_i_ka(v, self._line_branch)
            line = (np.maximum(i_f, i_t) / self._line_i_max_ka[:, None] * 100.0).T
        trafo = np.zeros((m, 0))
        if self._trafo_branch is not None:
            i_hv, i_lv = self._branch_i_ka(v, self._trafo_branch)
            ld = np.maximum(i_hv * self._trafo_vn_kv[0][:, None], i_lv * self._trafo_vn_kv[1][:, None])
            trafo = (ld * np.sqrt(3.0) / self._trafo_sn_mva[:, None] * 100.0 / self._trafo_par_df[:, None]).T
        # slack infeed (positive = supplying), summed per net: S = V conj(Y_ref V) - S_spec,ref
        # with no load or sgen at slack buses (checked at construction).
        i_ref = self._y_ref_l @ v + (self._y_ref_s @ self._v_ref)[:, None]
        s_eg = self._v_ref[:, None] * np.conj(i_ref) * self.base_mva + self._s_other_ref[:, None]
        s_net = (self._ref_to_net @ s_eg).T
        if bad.any():
            line[bad.T[:, self._line_net]] = np.nan
            trafo[bad.T[:, self._trafo_net]] = np.nan
            s_net[bad.T] = np.nan
        worst_pd = np.where(worst >= 0, self._row_pd[self._row_ptr[:-1, None] + np.maximum(worst, 0)], -1)
        return MultiNetResult(
            vm_pu=vm, line_loading_pct=line, trafo_loading_pct=trafo,
            ext_grid_p_mw=s_net.real, ext_grid_q_mvar=s_net.imag, converged=conv,
            max_mismatch_mva=mis * self.base_mva, max_mismatch_bus=worst_pd, iterations=its)
