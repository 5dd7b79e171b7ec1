"""Batched balanced AC load flow over many time steps at once.

DESIGN.md decision 3: the year-long load flow runs in a batched solver with
one factorisation per topology, validated against ``pandapower.runpp``.

The solver is the classic Z-bus (implicit Gauss, current-injection)
fixed-point iteration

.. math::

    V_L^{k+1} = Y_{LL}^{-1} \\left( \\overline{S_L / V_L^k} - Y_{LS} V_S \\right)

where ``L`` are the non-slack buses and ``S`` the slack (ext_grid) buses
(Grainger & Stevenson, *Power System Analysis*, 1994, §8.5 "Z-bus method";
Teng, "A direct approach for distribution system load flow solutions",
IEEE Trans. Power Delivery 18(3), 2003). Every iteration is one linear solve
with a fixed matrix for *all* time steps at once: a dense matrix product with
``Z_LL = inv(Y_LL)`` for tiny grids, otherwise forward/backward substitution
with LU factors of ``Y_LL`` (:func:`ordered_lu`), vectorised over the steps
in one compiled routine (:func:`fixed_point`) that
:class:`energy_sim.grid.multinet.MultiNetLoadFlow` shares.

Because the linear solve enforces Kirchhoff's current law exactly for the
currents ``I^k`` of the previous iterate, the power mismatch at the new
iterate is simply ``V^{k+1} conj(I^k) - S`` and costs no extra matrix product.
Convergence is declared with pandapower's own criterion: the largest
active/reactive mismatch at any non-slack bus below ``tolerance_mva``
(``pandapower.pf.run_newton_raphson_pf``; default 1e-8 MVA as in
``pandapower.runpp``).

To model exactly what pandapower models, the admittance matrices ``Ybus``,
``Yf``, ``Yt`` and the bus/branch lookups are taken from pandapower's own
internal model (``net._ppc["internal"]``, built by ``pandapower.runpp`` on a
copy of the net with loads and static generators set to zero). Switches,
fused buses, out-of-service elements, isolated buses, trafo tap positions and
phase shifts, shunts and the transformer model are therefore handled by
pandapower itself.

Scope: balanced, constant-power loads (``const_z_*`` / ``const_i_*`` must be
0), static generators as PQ injections, one or more ``ext_grid`` slacks, no
voltage-controlled ``gen`` elements. Other constant-power elements (storage,
ward PQ parts) are held at their values in the net.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import StrEnum

import numba
import numpy as np
import pandapower as pp
import scipy.sparse as sps
import scipy.sparse.linalg as spla
from pandapower.pypower.idx_bus import BASE_KV, PD, QD, VA, VM

__all__ = [
    "BatchedLoadFlow",
    "Factorisation",
    "LoadFlowResult",
    "describe_non_converged",
    "fixed_point",
    "no_load_voltages",
    "ordered_lu",
    "run_pandapower_reference",
]

#: pandapower's default convergence tolerance of ``runpp`` [MVA].
DEFAULT_TOLERANCE_MVA = 1e-8
#: Largest number of non-slack buses for which ``"auto"`` uses the dense inverse.
#: Measured 2026-11 on this project's 2-core machine, one BLAS thread, 4096
#: steps of synthetic radial LV feeders: the sparse path (SuperLU factors,
#: numba triangular solves over all steps) took 0.043 / 0.094 / 0.25 s at
#: 100 / 200 / 400 buses against 0.058 / 0.187 / 0.85 s for the dense product,
#: and 0.23 vs 0.30 s for a year of urban6 (58 non-slack buses). Dense only
#: pays for tiny grids, where it is also memory-trivial.
DENSE_MAX_BUSES = 32
#: Upper bound on bus-steps solved together in one chunk (complex128: 16 bytes
#: each). Bounds memory whatever the horizon (DESIGN.md decision 5) and keeps the
#: working arrays (~1.6 MB each) in cache: measured on urban6 for a year, chunks
#: of ~2000 steps ran 1.6x faster than one 35,136-step chunk.
MAX_BUS_STEPS_PER_CHUNK = 100_000


class Factorisation(StrEnum):
    """How the non-slack admittance block ``Y_LL`` is factorised."""

    auto = "auto"
    dense = "dense"
    sparse = "sparse"


@dataclass(frozen=True)
class LoadFlowResult:
    """Results of a batched load flow, one row per time step.

    Electrical quantities of steps that did not converge are NaN; their
    ``converged`` flag is False and ``max_mismatch_mva`` / ``max_mismatch_bus``
    say how far from a solution the last iterate was.

    Attributes
    ----------
    vm_pu : ndarray [n_step, n_bus]
        Voltage magnitude [p.u.], NaN for unsupplied buses.
    va_degree : ndarray [n_step, n_bus]
        Voltage angle [degree].
    line_loading_pct : ndarray [n_step, n_line]
        ``max(i_from, i_to) / (max_i_ka * df * parallel)`` [%], as pandapower.
    line_i_ka : ndarray [n_step, n_line]
        ``max(i_from, i_to)`` [kA].
    trafo_loading_pct : ndarray [n_step, n_trafo]
        Current-based loading ``max(i_hv vn_hv, i_lv vn_lv) sqrt(3) / sn /
        (parallel df)`` [%], pandapower's default ``trafo_loading="current"``.
    ext_grid_p_mw, ext_grid_q_mvar : ndarray [n_step, n_ext_grid]
        Slack infeed into the grid [MW], [Mvar] (positive = supplying).
    converged : ndarray [n_step] of bool
    max_mismatch_mva : ndarray [n_step]
        Largest |ΔP| or |ΔQ| over non-slack buses at the final iterate [MVA].
    max_mismatch_bus : ndarray [n_step] of int
        pandapower index of the bus with that mismatch (-1 if none).
    iterations : ndarray [n_step] of int
        Iterations used per step.
    bus_index, line_index, trafo_index, ext_grid_index : ndarray of int
        pandapower indices labelling the columns above.
    """

    vm_pu: np.ndarray
    va_degree: np.ndarray
    line_loading_pct: np.ndarray
    line_i_ka: np.ndarray
    trafo_loading_pct: np.ndarray
    ext_grid_p_mw: np.ndarray
    ext_grid_q_mvar: np.ndarray
    converged: np.ndarray
    max_mismatch_mva: np.ndarray
    max_mismatch_bus: np.ndarray
    iterations: np.ndarray
    bus_index: np.ndarray
    line_index: np.ndarray
    trafo_index: np.ndarray
    ext_grid_index: np.ndarray

    @property
    def n_step(self) -> int:
        """Number of time steps."""
        return int(self.converged.shape[0])

    def describe_non_converged(self, time_index=None) -> list[str]:
        """One sentence per non-converged step; see :func:`describe_non_converged`."""
        return describe_non_converged(self, time_index)


def describe_non_converged(result: LoadFlowResult, time_index=None) -> list[str]:
    """Describe every step that did not converge, one clear sentence each.

    Parameters
    ----------
    result : LoadFlowResult
    time_index : sequence, optional
        Labels of the steps (e.g. a ``pandas.DatetimeIndex``); defaults to the
        step number.

    Returns
    -------
    list of str
        Empty when every step converged.
    """
    messages = []
    for step in np.flatnonzero(~result.converged):
        label = f"step {step}" if time_index is None else f"step {step} ({time_index[step]})"
        messages.append(
            f"load flow did not converge at {label} after {result.iterations[step]} "
            f"iterations: largest power mismatch {result.max_mismatch_mva[step]:.3g} MVA "
            f"at bus {result.max_mismatch_bus[step]}; the grid is likely loaded beyond "
            f"voltage collapse there — reduce the load or reinforce the feeder"
        )
    return messages


def _check_supported(net) -> None:
    load = net.load[net.load.in_service.astype(bool)]
    for col in ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent",
                "const_z_percent", "const_i_percent"):
        if col in load.columns and np.any(np.nan_to_num(load[col].to_numpy(dtype=float)) != 0):
            bad = load.index[np.nan_to_num(load[col].to_numpy(dtype=float)) != 0].tolist()
            raise NotImplementedError(
                f"BatchedLoadFlow models constant-power loads only, but loads {bad} have "
                f"{col} != 0; set it to 0 or use run_pandapower_reference")
    for element in ("gen", "trafo3w", "dcline", "xward", "impedance", "svc", "ssc", "tcsc", "vsc"):
        if element in net and len(net[element]) and net[element].in_service.astype(bool).any():
            raise NotImplementedError(
                f"BatchedLoadFlow does not model in-service '{element}' elements "
                f"({int(net[element].in_service.sum())} in the net); use run_pandapower_reference")


def _incidence(element_bus_ppci, weight, n_bus_ppci) -> sps.csr_matrix:
    """Sparse [n_bus_ppci, n_element] matrix summing element powers per bus."""
    n_element = element_bus_ppci.shape[0]
    keep = (element_bus_ppci < n_bus_ppci) & (weight != 0)
    cols = np.arange(n_element)[keep]
    return sps.csr_matrix((weight[keep], (element_bus_ppci[keep], cols)),
                          shape=(n_bus_ppci, n_element))


@numba.njit(cache=True, nogil=True)
def _mismatch_and_next_current(v, s, i, v0):  # pragma: no cover - compiled
    """Fused element-wise step of the fixed point, one pass over [n_L, m] arrays.

    On entry ``v = Z_LL i`` and ``i = conj(s / v_old)``. Adds the no-load voltage
    ``v0``; computes the mismatch ``v conj(i) - s`` (exact, since the linear
    solve satisfied KCL for ``i``), its largest |ΔP|, |ΔQ| per step and the
    bus where it occurs; overwrites ``i`` with the next current ``conj(s / v)``.
    """
    n, m = v.shape
    mis_max = np.zeros(m)
    worst = np.zeros(m, dtype=np.int64)
    for r in range(n):
        v0r = v0[r]
        for c in range(m):
            vr = v[r, c] + v0r
            v[r, c] = vr
            sr = s[r, c]
            d = vr * np.conj(i[r, c]) - sr
            a = max(abs(d.real), abs(d.imag))
            # "not a <= max" also catches NaN so blown-up steps are flagged.
            if not a <= mis_max[c]:
                mis_max[c] = a
                worst[c] = r
            i[r, c] = np.conj(sr / vr)
    return mis_max, worst


def ordered_lu(y_ll: sps.spmatrix) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Fill-reducing symmetric ordering and LU factors of ``Y_LL``, for :func:`fixed_point`.

    The ordering is SuperLU's minimum degree on ``A^T + A`` ((near) zero
    fill-in on radial grids). The matrix is then permuted symmetrically and
    factorised again in that order with diagonal pivots (admittance matrices
    of supplied grids have a dominant, non-zero diagonal), so the factors need
    no row or column permutation in the solve: the unknowns are simply
    renumbered once.

    Parameters
    ----------
    y_ll : sparse matrix [n, n] complex
        Non-slack block of the bus admittance matrix [p.u.].

    Returns
    -------
    order : ndarray [n] of int
        ``order[k]`` is the original row of unknown ``k`` in the factor order.
    factors : tuple
        ``(l_indptr, l_indices, l_data, u_indptr, u_indices, u_data, u_inv)``:
        the strictly lower part of the unit ``L`` and the strictly upper part
        of ``U`` in CSR, and ``1 / diag(U)``, all in the factor order.
    """
    y_ll = sps.csc_matrix(y_ll, dtype=np.complex128)
    n = y_ll.shape[0]
    if n == 0:
        empty_i, empty_c = np.zeros(1, np.int64), np.zeros(0, np.complex128)
        return (np.zeros(0, np.int64),
                (empty_i, np.zeros(0, np.int64), empty_c, empty_i.copy(), np.zeros(0, np.int64), empty_c.copy(),
                 np.zeros(0, np.complex128)))
    # scipy: Pr A Pc = L U with Pc[k, perm_c[k]] = 1, i.e. unknown k goes to position perm_c[k].
    order = np.argsort(spla.splu(y_ll, permc_spec="MMD_AT_PLUS_A").perm_c).astype(np.int64)
    y_ord = y_ll[order][:, order].tocsc()
    lu = spla.splu(y_ord, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    identity = np.arange(n)
    if not (np.array_equal(lu.perm_r, identity) and np.array_equal(lu.perm_c, identity)):
        raise NotImplementedError("the admittance matrix needs pivoting (a zero diagonal?); not supported")
    lower = sps.tril(lu.L, -1, format="csr")
    upper = sps.triu(lu.U, 1, format="csr")
    lower.sort_indices()
    upper.sort_indices()
    factors = (lower.indptr.astype(np.int64), lower.indices.astype(np.int64), lower.data.astype(np.complex128),
               upper.indptr.astype(np.int64), upper.indices.astype(np.int64), upper.data.astype(np.complex128),
               (1.0 / lu.U.diagonal()).astype(np.complex128))
    return order, factors


@numba.njit(cache=True, nogil=True, error_model="numpy")
def fixed_point(l_indptr, l_indices, l_data, u_indptr, u_indices, u_data, u_inv, i_slack, v0, s_re, s_im, tol,
                max_iteration, v_re, v_im, converged, mismatch, worst, iterations):  # pragma: no cover - compiled
    """Z-bus fixed point of one grid for a batch of steps, in the factor order of :func:`ordered_lu`.

    Solves ``V = Y_LL^-1 (conj(S / V) + i_slack)`` with ``i_slack = -Y_LS V_S``,
    starting from the no-load voltages ``v0``, one forward and one backward
    substitution per iteration for all active steps at once. The power
    mismatch of the new iterate, ``V conj(I_old) - S`` (exact: the linear
    solve satisfied Kirchhoff's current law for ``I_old``), and the next
    current ``conj(S / V)`` are computed inside the backward substitution,
    row by row as each row's voltage becomes final, so an iteration reads
    the working arrays twice. Real and imaginary parts are kept in separate
    arrays so the loops over steps vectorise.

    A step leaves the active set when its largest |ΔP|, |ΔQ| is below ``tol``
    (converged), when the iterate is no longer finite (blown up: it keeps the
    mismatch of its last finite iterate) or at ``max_iteration``; the columns
    of the rest beyond the new end move into the holes (so a finished step
    costs one column copy, and each step's arithmetic is independent of its
    column: the result does not depend on which other steps are solved
    together).

    Parameters
    ----------
    l_indptr, l_indices, l_data, u_indptr, u_indices, u_data, u_inv : ndarray
        Factors from :func:`ordered_lu`.
    i_slack : ndarray [n] complex
        ``-Y_LS V_S`` [p.u.].
    v0 : ndarray [n] complex
        Start: the no-load voltages ``Y_LL^-1 i_slack`` (this function with
        ``S = 0`` returns them after one iteration) [p.u.].
    s_re, s_im : ndarray [n, m]
        Specified injection per bus and step [p.u.]; used as work space
        (overwritten).
    tol : float
        Convergence limit on the largest |ΔP|, |ΔQ| of a step [p.u.].
    max_iteration : int
    v_re, v_im : ndarray [n, m]
        Out: final voltages [p.u.].
    converged, mismatch, worst, iterations : ndarray [m]
        Out: per step, whether it converged, its largest mismatch [p.u.], the
        row where it occurs (-1 if none) and the iterations used.
    """
    n, m = s_re.shape
    if n == 0:
        for c in range(m):
            converged[c] = True
            mismatch[c] = 0.0
            worst[c] = -1
            iterations[c] = 0
        return
    i_re = np.empty((n, m))
    i_im = np.empty((n, m))
    for r in range(n):
        v0r = v0[r].real
        v0i = v0[r].imag
        w0 = 1.0 / (v0r * v0r + v0i * v0i)
        for c in range(m):
            sr = s_re[r, c]
            si = s_im[r, c]
            i_re[r, c] = (sr * v0r + si * v0i) * w0
            i_im[r, c] = (sr * v0i - si * v0r) * w0
    y_re = np.empty((n, m))
    y_im = np.empty((n, m))
    active = np.arange(m)
    prev_mis = np.full(m, np.inf)
    prev_worst = np.full(m, -1, np.int64)
    mis = np.zeros(m)
    bad = np.zeros(m)
    row = np.zeros(m, np.int64)
    d_row = np.empty(m)
    done = np.empty(m, np.int64)
    move_src = np.empty(m, np.int64)
    move_dst = np.empty(m, np.int64)
    ma = m
    for it in range(1, max_iteration + 1):
        # forward: L y = I + i_slack (row by row; the copy of I is fused in)
        for j in range(n):
            sr = i_slack[j].real
            si = i_slack[j].imag
            for c in range(ma):
                y_re[j, c] = i_re[j, c] + sr
                y_im[j, c] = i_im[j, c] + si
            for k in range(l_indptr[j], l_indptr[j + 1]):
                col = l_indices[k]
                lr = l_data[k].real
                li = l_data[k].imag
                for c in range(ma):
                    a = y_re[col, c]
                    b = y_im[col, c]
                    y_re[j, c] -= lr * a - li * b
                    y_im[j, c] -= lr * b + li * a
        # backward: U v = y, then at once the mismatch and the next current of the row
        for c in range(ma):
            mis[c] = 0.0
            bad[c] = 0.0
            row[c] = -1
        for j in range(n - 1, -1, -1):
            for k in range(u_indptr[j], u_indptr[j + 1]):
                col = u_indices[k]
                ur = u_data[k].real
                ui = u_data[k].imag
                for c in range(ma):
                    a = y_re[col, c]
                    b = y_im[col, c]
                    y_re[j, c] -= ur * a - ui * b
                    y_im[j, c] -= ur * b + ui * a
            dr = u_inv[j].real
            di = u_inv[j].imag
            for c in range(ma):
                a = y_re[j, c]
                b = y_im[j, c]
                vr = dr * a - di * b
                vi = dr * b + di * a
                y_re[j, c] = vr
                y_im[j, c] = vi
                sr = s_re[j, c]
                si = s_im[j, c]
                ir = i_re[j, c]
                ii = i_im[j, c]
                # mismatch V conj(I_old) - S
                d_row[c] = max(abs(vr * ir + vi * ii - sr), abs(vi * ir - vr * ii - si))
                # next current conj(S / V)
                w = 1.0 / (vr * vr + vi * vi)
                i_re[j, c] = (sr * vr + si * vi) * w
                i_im[j, c] = (sr * vi - si * vr) * w
            # selects, not branches, so this loop vectorises too
            for c in range(ma):
                d = d_row[c]
                bad[c] += d  # NaN / inf survive a sum, so blown-up steps are seen
                larger = d > mis[c]
                mis[c] = d if larger else mis[c]
                row[c] = j if larger else row[c]
        # retire finished steps; the rest stay in columns 0..keep-1
        n_done = 0
        for c in range(ma):
            finite = np.isfinite(bad[c])
            ok = finite and mis[c] < tol
            if ok or not finite or it == max_iteration:
                col = active[c]
                mismatch[col] = mis[c] if finite else prev_mis[c]
                worst[col] = row[c] if finite else prev_worst[c]
                iterations[col] = it
                converged[col] = ok
                done[n_done] = c
                n_done += 1
            else:
                prev_mis[c] = mis[c]
                prev_worst[c] = row[c]
        if n_done == 0:
            continue
        # row by row (the arrays are [n, m], row-major): results out, then the columns of
        # unfinished steps beyond the new end move into the holes the finished ones leave
        keep = ma - n_done
        n_move = 0
        h = 0
        while h < n_done and done[h] < keep:
            h += 1
        for c in range(keep, ma):
            if h < n_done and done[h] == c:
                h += 1
            else:
                move_src[n_move] = c
                n_move += 1
        for k in range(n_move):
            move_dst[k] = done[k]
        for r in range(n):
            for k in range(n_done):
                c = done[k]
                v_re[r, active[c]] = y_re[r, c]
                v_im[r, active[c]] = y_im[r, c]
            for k in range(n_move):
                a = move_src[k]
                b = move_dst[k]
                s_re[r, b] = s_re[r, a]
                s_im[r, b] = s_im[r, a]
                i_re[r, b] = i_re[r, a]
                i_im[r, b] = i_im[r, a]
        for k in range(n_move):
            a = move_src[k]
            b = move_dst[k]
            active[b] = active[a]
            prev_mis[b] = prev_mis[a]
            prev_worst[b] = prev_worst[a]
        ma = keep
        if ma == 0:
            break


def no_load_voltages(factors: tuple[np.ndarray, ...], i_slack: np.ndarray) -> np.ndarray:
    """``Y_LL^-1 i_slack``: the voltages with every load and generator at zero [p.u.].

    The fixed point of :func:`fixed_point` with ``S = 0`` is reached in its
    first iteration, which is exactly this linear solve.

    Parameters
    ----------
    factors : tuple
        From :func:`ordered_lu`.
    i_slack : ndarray [n] complex
        ``-Y_LS V_S`` in the factor order [p.u.].
    """
    n = i_slack.shape[0]
    v_re, v_im = np.empty((n, 1)), np.empty((n, 1))
    flags = np.zeros(1, np.bool_), np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    fixed_point(*factors, np.ascontiguousarray(i_slack, np.complex128), np.ones(n, np.complex128),
                np.zeros((n, 1)), np.zeros((n, 1)), np.inf, 1, v_re, v_im, *flags)
    return v_re[:, 0] + 1j * v_im[:, 0]


class BatchedLoadFlow:
    """Batched Z-bus load flow for one topology of a pandapower net.

    Construction runs ``pandapower.runpp`` once on a copy of the net (loads
    and sgens at zero) to obtain pandapower's own admittance model, then
    factorises the non-slack block once. A topology change (switch state,
    element in/out of service, tap position) means building a new instance
    from the changed net; that costs one ``runpp`` on a small net plus one
    factorisation (tens of milliseconds for LV grids). That ``runpp`` runs
    with ``numba=False`` unless ``runpp_kwargs`` say otherwise: pandapower's
    numba kernels compile anew in every process (~9 s) and buy nothing for
    one zero-load solve; the admittance matrices agree to ~1e-15 relative.

    Parameters
    ----------
    net : pandapowerNet
        Balanced net; ``net`` itself is not modified.
    factorisation : Factorisation or str
        ``"dense"`` (``Z = inv(Y_LL)``; each iteration one matrix product),
        ``"sparse"`` (SuperLU factors, numba substitution over all steps) or
        ``"auto"``: dense up to :data:`DENSE_MAX_BUSES` non-slack buses.
        ``None`` builds pandapower's model only (no ``solve``; for
        :class:`energy_sim.grid.multinet.MultiNetLoadFlow`, which factorises
        its grids one by one).
    **runpp_kwargs
        Passed to ``pandapower.runpp`` (e.g. ``trafo_model``,
        ``calculate_voltage_angles``), so the model matches a reference run
        with the same options.
    """

    def __init__(self, net, *, factorisation: Factorisation | str | None = "auto", **runpp_kwargs):
        _check_supported(net)
        factorisation = None if factorisation is None else Factorisation(factorisation)
        self._runpp_kwargs = dict(runpp_kwargs)
        work = copy.deepcopy(net)
        for element, cols in (("load", ("p_mw", "q_mvar")), ("sgen", ("p_mw", "q_mvar"))):
            for col in cols:
                work[element][col] = 0.0
        # Only pandapower's model is read from this run (loads at zero, a trivial solve); its numba
        # kernels would compile anew in every process (~9 s), so they are off unless asked for.
        pp.runpp(work, **{"numba": False, **runpp_kwargs})
        ppci = work._ppc["internal"]
        if len(ppci["pv"]):
            raise NotImplementedError("voltage-controlled (PV) buses are not supported")
        if work._options["trafo_loading"] != "current":
            raise NotImplementedError("only trafo_loading='current' (pandapower's default) is supported")

        self.base_mva = float(ppci["baseMVA"])
        bus_ppci = ppci["bus"]
        n = bus_ppci.shape[0]
        self._n_ppci = n
        ref = np.asarray(ppci["ref"], dtype=np.int64)
        non_ref = np.setdiff1d(np.arange(n), ref)
        self._ref, self._non_ref = ref, non_ref
        ybus = sps.csr_matrix(ppci["Ybus"])

        # Slack voltages are the ext_grid set points (pandapower keeps them fixed).
        self._v_ref = bus_ppci[ref, VM] * np.exp(1j * np.deg2rad(bus_ppci[ref, VA]))
        # Constant-power injections of elements other than load/sgen [MW, Mvar].
        self._s_other_mva = bus_ppci[:, PD] + 1j * bus_ppci[:, QD]
        self._base_kv = bus_ppci[:, BASE_KV]

        self._ybus = ybus
        n_l = non_ref.shape[0]
        if factorisation is Factorisation.auto:
            factorisation = Factorisation.dense if n_l <= DENSE_MAX_BUSES else Factorisation.sparse
        self.factorisation = factorisation
        self._z_ll = self._lu = None
        if factorisation is not None:
            y_ll = ybus[non_ref][:, non_ref].tocsc()
            if factorisation is Factorisation.dense:
                self._z_ll = np.linalg.inv(y_ll.toarray())
            else:
                # The non-slack buses are renumbered once into the factors' order.
                order, self._lu = ordered_lu(y_ll)
                non_ref = non_ref[order]
                self._non_ref = non_ref
            # -Y_LS V_S: the slack's share of the fixed-point map; no-load voltages V0 = Y_LL^-1 of it.
            self._i_slack = -(ybus[non_ref][:, ref] @ self._v_ref)
            self._v0_l = (self._z_ll @ self._i_slack if self._lu is None
                          else no_load_voltages(self._lu, self._i_slack))

        # Lookups pandapower index -> ppci index (>= n for unsupplied buses).
        lookup = work._pd2ppc_lookups["bus"]
        self.bus_index = net.bus.index.to_numpy()
        self._bus_ppci = lookup[self.bus_index]
        supplied = self._bus_ppci < n
        # First pandapower bus of each ppci bus, to name buses in messages.
        self._ppci_to_pd = np.full(n, -1, dtype=np.int64)
        for pd_bus, ib in zip(self.bus_index[supplied][::-1], self._bus_ppci[supplied][::-1]):
            self._ppci_to_pd[ib] = pd_bus

        self.load_index = net.load.index.to_numpy()
        self.sgen_index = net.sgen.index.to_numpy()
        load_w = net.load.scaling.to_numpy(float) * net.load.in_service.to_numpy(bool)
        sgen_w = net.sgen.scaling.to_numpy(float) * net.sgen.in_service.to_numpy(bool)
        self._c_load = _incidence(lookup[net.load.bus.to_numpy()], load_w, n)
        self._c_sgen = _incidence(lookup[net.sgen.bus.to_numpy()], sgen_w, n)

        branch_is = np.asarray(ppci["branch_is"], dtype=bool)
        ppci_row = np.cumsum(branch_is) - 1
        yf, yt = sps.csr_matrix(ppci["Yf"]), sps.csr_matrix(ppci["Yt"])
        branch = ppci["branch"]
        self.line_index = net.line.index.to_numpy()
        self.trafo_index = net.trafo.index.to_numpy()

        def branch_matrices(element):
            if element not in work._pd2ppc_lookups["branch"]:
                return None
            f, t = work._pd2ppc_lookups["branch"][element]
            rows = np.arange(f, t)
            ok = branch_is[rows]
            sel = ppci_row[rows[ok]]
            fbus = branch[sel, 0].real.astype(np.int64)
            tbus = branch[sel, 1].real.astype(np.int64)
            # pandapower divides the (zero) flow of a branch outside the ppci by the
            # voltage of its end buses: 0 kA at a supplied end, NaN at an unsupplied one.
            ppc_branch = work._ppc["branch"][rows]
            i_off = np.where(ppc_branch[:, :2].real.astype(np.int64) < n, 0.0, np.nan).T
            return ok, yf[sel], yt[sel], self._base_kv[fbus], self._base_kv[tbus], i_off

        self._line = branch_matrices("line")
        self._trafo = branch_matrices("trafo")
        line = net.line
        self._line_i_max_ka = (line.max_i_ka * line.df * line.parallel).to_numpy(float)
        trafo = net.trafo
        self._trafo_vn_kv = np.stack([trafo.vn_hv_kv.to_numpy(float), trafo.vn_lv_kv.to_numpy(float)])
        self._trafo_sn_mva = trafo.sn_mva.to_numpy(float)
        self._trafo_par_df = (trafo.parallel * trafo.df).to_numpy(float)

        eg = net.ext_grid
        self.ext_grid_index = eg.index.to_numpy()
        eg_bus = lookup[eg.bus.to_numpy()]
        eg_on = eg.in_service.to_numpy(bool) & (eg_bus < n)
        if len(np.unique(eg_bus[eg_on])) != int(eg_on.sum()):
            raise NotImplementedError("several in-service ext_grids on one (fused) bus are not supported")
        self._eg_on = eg_on
        self._eg_bus = eg_bus

    # ------------------------------------------------------------------ core
    def _injections_pu(self, load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar) -> np.ndarray:
        """Net specified injection (generation - load) per ppci bus [p.u.], [n, n_step]."""
        s_load = self._c_load @ (load_p_mw + 1j * load_q_mvar).T
        s_sgen = self._c_sgen @ (sgen_p_mw + 1j * sgen_q_mvar).T
        return (s_sgen - s_load - self._s_other_mva[:, None]) / self.base_mva

    def _iterate(self, s_l, tol_pu, max_iteration):
        """Z-bus fixed point for one chunk. ``s_l`` [n_L, m] in p.u.

        Only the steps still above the tolerance are iterated (the active set
        shrinks as steps converge or blow up); results are written back only
        when a step finishes.
        """
        n_l, m = s_l.shape
        v = np.full((n_l, m), np.nan, dtype=np.complex128)
        mismatch = np.zeros(m)
        worst = np.full(m, -1, dtype=np.int64)
        iterations = np.zeros(m, dtype=np.int64)
        converged = np.zeros(m, dtype=bool)
        if n_l == 0 or m == 0:
            converged[:] = True
            return v, converged, mismatch, worst, iterations
        if self._lu is not None:
            v_re, v_im = np.empty((n_l, m)), np.empty((n_l, m))
            fixed_point(*self._lu, self._i_slack, self._v0_l, np.ascontiguousarray(s_l.real),
                        np.ascontiguousarray(s_l.imag), tol_pu, max_iteration, v_re, v_im, converged, mismatch,
                        worst, iterations)
            v = v_re + 1j * v_im
            return v, converged, mismatch, worst, iterations
        active = np.arange(m)
        s_a = np.ascontiguousarray(s_l)
        v0 = self._v0_l
        i_a = np.conj(s_a / v0[:, None])
        prev_mis = np.full(m, np.inf)
        prev_worst = np.full(m, -1, dtype=np.int64)
        for it in range(1, max_iteration + 1):
            v_new = self._z_ll @ i_a
            # Fused: v_new += v0; mismatch of v_new; next current i_a = conj(s / v_new).
            mis_a, worst_a = _mismatch_and_next_current(v_new, s_a, i_a, v0)
            finite = np.isfinite(mis_a)
            ok = mis_a < tol_pu
            done = ok | ~finite
            if it == max_iteration:
                done[:] = True
            if done.any():
                # A step that blew up keeps the mismatch of its last finite iterate.
                mis_done = np.where(finite, mis_a, prev_mis)[done]
                worst_done = np.where(finite, worst_a, prev_worst)[done]
                idx = active[done]
                v[:, idx] = v_new[:, done]
                mismatch[idx] = mis_done
                worst[idx] = worst_done
                iterations[idx] = it
                converged[idx] = ok[done]
                keep = ~done
                if not keep.any():
                    break
                active = active[keep]
                s_a = np.ascontiguousarray(s_a[:, keep])
                i_a = np.ascontiguousarray(i_a[:, keep])
                prev_mis, prev_worst = mis_a[keep], worst_a[keep]
            else:
                prev_mis, prev_worst = mis_a, worst_a
        return v, converged, mismatch, worst, iterations

    def solve(self, load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar=None, *,
              tolerance_mva: float = DEFAULT_TOLERANCE_MVA, max_iteration: int = 100,
              max_steps_per_chunk: int | None = None) -> LoadFlowResult:
        """Solve all time steps together.

        Parameters
        ----------
        load_p_mw, load_q_mvar : array_like [n_step, n_load]
            Load active [MW] / reactive [Mvar] power, positive = consumption,
            columns in the order of ``net.load.index``. Multiplied by
            ``net.load.scaling`` (and zero when out of service) as pandapower does.
        sgen_p_mw : array_like [n_step, n_sgen]
            Static generator active power [MW], positive = production,
            columns in the order of ``net.sgen.index``; scaled likewise.
        sgen_q_mvar : array_like [n_step, n_sgen], optional
            Static generator reactive power [Mvar]; default 0.
        tolerance_mva : float
            Convergence limit on the largest |ΔP|, |ΔQ| at any bus [MVA]
            (default 1e-8, as ``pandapower.runpp``).
        max_iteration : int
            Iteration limit of the fixed point; steps still above the
            tolerance are flagged as not converged.
        max_steps_per_chunk : int, optional
            Steps solved together per chunk (bounds memory); default keeps
            ``n_bus * steps`` below :data:`MAX_BUS_STEPS_PER_CHUNK`.

        Returns
        -------
        LoadFlowResult
        """
        load_p_mw = np.atleast_2d(np.asarray(load_p_mw, dtype=float))
        load_q_mvar = np.atleast_2d(np.asarray(load_q_mvar, dtype=float))
        sgen_p_mw = np.asarray(sgen_p_mw, dtype=float).reshape(load_p_mw.shape[0], -1)
        n_step = load_p_mw.shape[0]
        if sgen_q_mvar is None:
            sgen_q_mvar = np.zeros_like(sgen_p_mw)
        sgen_q_mvar = np.asarray(sgen_q_mvar, dtype=float).reshape(sgen_p_mw.shape)
        expected = {"load_p_mw": (load_p_mw, self.load_index.size),
                    "load_q_mvar": (load_q_mvar, self.load_index.size),
                    "sgen_p_mw": (sgen_p_mw, self.sgen_index.size),
                    "sgen_q_mvar": (sgen_q_mvar, self.sgen_index.size)}
        for name, (arr, n_col) in expected.items():
            if arr.shape != (n_step, n_col):
                raise ValueError(f"{name} must have shape (n_step, {n_col}) = ({n_step}, {n_col}), "
                                 f"got {arr.shape}; columns follow net.{name.split('_')[0]}.index")

        if max_steps_per_chunk is None:
            max_steps_per_chunk = max(1, MAX_BUS_STEPS_PER_CHUNK // max(self._n_ppci, 1))
        n_bus, n_line, n_trafo = self.bus_index.size, self.line_index.size, self.trafo_index.size
        n_eg = self.ext_grid_index.size
        out = {
            "vm_pu": np.full((n_step, n_bus), np.nan),
            "va_degree": np.full((n_step, n_bus), np.nan),
            "line_loading_pct": np.zeros((n_step, n_line)),
            "line_i_ka": np.zeros((n_step, n_line)),
            "trafo_loading_pct": np.zeros((n_step, n_trafo)),
            "ext_grid_p_mw": np.zeros((n_step, n_eg)),
            "ext_grid_q_mvar": np.zeros((n_step, n_eg)),
        }
        converged = np.zeros(n_step, dtype=bool)
        mismatch_mva = np.zeros(n_step)
        worst_bus = np.full(n_step, -1, dtype=np.int64)
        iterations = np.zeros(n_step, dtype=np.int64)
        tol_pu = tolerance_mva / self.base_mva
        sup = self._bus_ppci < self._n_ppci

        for start in range(0, n_step, max_steps_per_chunk):
            sl = slice(start, min(start + max_steps_per_chunk, n_step))
            s_pu = self._injections_pu(load_p_mw[sl], load_q_mvar[sl], sgen_p_mw[sl], sgen_q_mvar[sl])
            v_l, conv, mis, worst, its = self._iterate(s_pu[self._non_ref], tol_pu, max_iteration)
            m = v_l.shape[1]
            v = np.empty((self._n_ppci, m), dtype=np.complex128)
            v[self._ref] = self._v_ref[:, None]
            v[self._non_ref] = v_l
            v[:, ~conv] = np.nan
            converged[sl] = conv
            mismatch_mva[sl] = mis * self.base_mva
            worst_bus[sl] = np.where(worst >= 0, self._ppci_to_pd[self._non_ref[np.maximum(worst, 0)]], -1)
            iterations[sl] = its

            vb = v[self._bus_ppci[sup]]
            out["vm_pu"][sl, sup] = np.abs(vb).T
            out["va_degree"][sl, sup] = np.rad2deg(np.angle(vb)).T

            if self._line is not None:
                i_ka = self._branch_i_ka(v, self._line)
                i_max_ka = np.maximum(i_ka[0], i_ka[1])  # NaN-propagating, like np.max in pandapower
                out["line_i_ka"][sl] = i_max_ka.T
                with np.errstate(divide="ignore", invalid="ignore"):
                    out["line_loading_pct"][sl] = np.where(
                        self._line_i_max_ka != 0, i_max_ka.T / self._line_i_max_ka * 100.0, np.inf)
            if self._trafo is not None:
                i_ka = self._branch_i_ka(v, self._trafo)
                ld = np.maximum(i_ka[0] * self._trafo_vn_kv[0][:, None], i_ka[1] * self._trafo_vn_kv[1][:, None])
                ld = ld * np.sqrt(3.0) / self._trafo_sn_mva[:, None] * 100.0 / self._trafo_par_df[:, None]
                out["trafo_loading_pct"][sl] = ld.T
            if n_eg:
                eb = self._eg_bus[self._eg_on]
                s_calc = v[eb] * np.conj(self._ybus[eb] @ v)
                s_eg = (s_calc - s_pu[eb]) * self.base_mva
                out["ext_grid_p_mw"][sl, self._eg_on] = s_eg.real.T
                out["ext_grid_q_mvar"][sl, self._eg_on] = s_eg.imag.T

        bad = ~converged
        for key in ("line_loading_pct", "line_i_ka", "trafo_loading_pct", "ext_grid_p_mw", "ext_grid_q_mvar"):
            out[key][bad] = np.nan
        return LoadFlowResult(**out, converged=converged, max_mismatch_mva=mismatch_mva,
                              max_mismatch_bus=worst_bus, iterations=iterations,
                              bus_index=self.bus_index, line_index=self.line_index,
                              trafo_index=self.trafo_index, ext_grid_index=self.ext_grid_index)

    def _branch_i_ka(self, v, matrices) -> np.ndarray:
        """From/to currents [kA] of a branch group, zero for out-of-service branches, [2, n_br, m]."""
        ok, yf, yt, kv_f, kv_t, i_off = matrices
        m = v.shape[1]
        i_ka = np.repeat(i_off[:, :, None], m, axis=2)
        # |I| [p.u.] * baseMVA / (sqrt(3) * base kV) = kA (pandapower results_branch._get_branch_flows).
        i_ka[0, ok] = np.abs(yf @ v) * (self.base_mva / (np.sqrt(3.0) * kv_f))[:, None]
        i_ka[1, ok] = np.abs(yt @ v) * (self.base_mva / (np.sqrt(3.0) * kv_t))[:, None]
        return i_ka


def run_pandapower_reference(net, load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar=None,
                             **runpp_kwargs) -> LoadFlowResult:
    """Exact reference: ``pandapower.runpp`` once per step (slow).

    Same inputs and result layout as :meth:`BatchedLoadFlow.solve`. Steps
    where ``runpp`` raises ``LoadflowNotConverged`` are flagged (NaN results,
    ``max_mismatch_mva`` NaN since pandapower does not report it).
    ``max_mismatch_mva`` of converged steps is computed from pandapower's
    internal ``V``, ``Ybus`` and ``Sbus`` [MVA].

    Parameters
    ----------
    net : pandapowerNet
        Not modified (a copy is solved).
    load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar : array_like
        As in :meth:`BatchedLoadFlow.solve` [MW], [Mvar].
    **runpp_kwargs
        Passed to ``pandapower.runpp``.
    """
    work = copy.deepcopy(net)
    load_p_mw = np.atleast_2d(np.asarray(load_p_mw, dtype=float))
    load_q_mvar = np.atleast_2d(np.asarray(load_q_mvar, dtype=float))
    n_step = load_p_mw.shape[0]
    sgen_p_mw = np.asarray(sgen_p_mw, dtype=float).reshape(n_step, -1)
    sgen_q_mvar = np.zeros_like(sgen_p_mw) if sgen_q_mvar is None else np.asarray(sgen_q_mvar, float)
    n_bus, n_line, n_trafo, n_eg = len(net.bus), len(net.line), len(net.trafo), len(net.ext_grid)
    vm = np.full((n_step, n_bus), np.nan)
    va = np.full((n_step, n_bus), np.nan)
    lload = np.full((n_step, n_line), np.nan)
    li = np.full((n_step, n_line), np.nan)
    tload = np.full((n_step, n_trafo), np.nan)
    egp = np.full((n_step, n_eg), np.nan)
    egq = np.full((n_step, n_eg), np.nan)
    conv = np.zeros(n_step, bool)
    mism = np.full(n_step, np.nan)
    its = np.zeros(n_step, np.int64)
    for k in range(n_step):
        work.load["p_mw"] = load_p_mw[k]
        work.load["q_mvar"] = load_q_mvar[k]
        work.sgen["p_mw"] = sgen_p_mw[k]
        work.sgen["q_mvar"] = sgen_q_mvar[k]
        try:
            pp.runpp(work, **runpp_kwargs)
        except pp.LoadflowNotConverged:
            its[k] = int(work._ppc.get("iterations", 0) or 0)
            continue
        conv[k] = True
        its[k] = int(work._ppc["iterations"])
        vm[k] = work.res_bus.vm_pu.to_numpy()
        va[k] = work.res_bus.va_degree.to_numpy()
        lload[k] = work.res_line.loading_percent.to_numpy()
        li[k] = work.res_line.i_ka.to_numpy()
        tload[k] = work.res_trafo.loading_percent.to_numpy()
        egp[k] = work.res_ext_grid.p_mw.to_numpy()
        egq[k] = work.res_ext_grid.q_mvar.to_numpy()
        internal = work._ppc["internal"]
        v = internal["V"]
        mis = v * np.conj(internal["Ybus"] @ v) - internal["Sbus"]
        non_ref = np.setdiff1d(np.arange(v.shape[0]), internal["ref"])
        mism[k] = np.max(np.maximum(np.abs(mis[non_ref].real), np.abs(mis[non_ref].imag)),
                         initial=0.0) * internal["baseMVA"]
    return LoadFlowResult(
        vm_pu=vm, va_degree=va, line_loading_pct=lload, line_i_ka=li, trafo_loading_pct=tload,
        ext_grid_p_mw=egp, ext_grid_q_mvar=egq, converged=conv, max_mismatch_mva=mism,
        max_mismatch_bus=np.full(n_step, -1, np.int64), iterations=its,
        bus_index=net.bus.index.to_numpy(), line_index=net.line.index.to_numpy(),
        trafo_index=net.trafo.index.to_numpy(), ext_grid_index=net.ext_grid.index.to_numpy())


class PandapowerLoadFlow:
    """``pandapower.runpp`` once per step behind `BatchedLoadFlow`'s interface: the reference solver of runs.

    `energy_sim.grid.simulate.CitySolver` uses it for every LV grid and the
    MV network when a scenario sets ``grid.solver: pandapower``, so a whole
    run can be repeated with pandapower's own Newton-Raphson and compared
    with the batched solver (tests/test_reference_solver_runs.py). Slow: one
    ``runpp`` per step and grid (see `run_pandapower_reference`).

    Parameters
    ----------
    net : pandapowerNet
        Not modified (each `solve` works on a copy).
    """

    def __init__(self, net):
        self.net = net
        self.bus_index = net.bus.index.to_numpy()
        self.line_index = net.line.index.to_numpy()
        self.trafo_index = net.trafo.index.to_numpy()
        self.ext_grid_index = net.ext_grid.index.to_numpy()

    def solve(self, load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar=None, **_batched_options) -> LoadFlowResult:
        """As `BatchedLoadFlow.solve`; the batched solver's tolerance and chunking options do not apply."""
        return run_pandapower_reference(self.net, load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar)
