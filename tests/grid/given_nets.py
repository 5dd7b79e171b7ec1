"""A small hand-made pandapower net with two MV/LV substations, for the given-grid tests.

Layout (bus numbers; "=" a closed bus-bus switch, "-x-" a line with an open switch)::

    MV bus 0 (10 kV, ext_grid) --trafo 0 "MSR Oost" 400 kVA--> bus 1 = bus 2   (LV busbar in two sections)
        bus 1 -line 0- bus 3 -line 1- bus 4        loads at 3, 4, 4 (feeder 1)
        bus 2 -line 2- bus 5                       load at 5        (feeder 2)
    MV bus 0 --trafo 1 "MSR West" 250 kVA--> bus 6
        bus 6 -line 3- bus 7                       load at 7        (feeder 1)
    bus 5 -line 4-x- bus 7                         normally-open tie between the two LV grids

plus a rooftop-PV sgen at bus 4 and a 1 MW load on the MV bus. The MV bus has
geodata near Hengelo (WGS84).
"""

from __future__ import annotations

import pandapower as pp

MV_LON_DEG, MV_LAT_DEG = 6.7930, 52.2660
LOAD_P_MW = (0.012, 0.008, 0.010, 0.015, 0.020)  # at buses 3, 4, 4, 5, 7


def two_substation_net(tie_closed: bool = False) -> pp.pandapowerNet:
    net = pp.create_empty_network()
    mv = pp.create_bus(net, 10.0, name="MV", geodata=(MV_LON_DEG, MV_LAT_DEG))
    b = [mv] + [pp.create_bus(net, 0.4, name=f"LV {k}") for k in range(1, 8)]
    pp.create_ext_grid(net, mv, vm_pu=1.02)
    pp.create_transformer(net, mv, b[1], "0.4 MVA 10/0.4 kV", name="MSR Oost")
    pp.create_transformer(net, mv, b[6], "0.25 MVA 10/0.4 kV", name="MSR West")
    pp.create_switch(net, b[1], b[2], "b", closed=True, name="busbar coupler")
    pp.create_line(net, b[1], b[3], 0.08, "NAYY 4x150 SE", name="Oost 1a")
    pp.create_line(net, b[3], b[4], 0.05, "NAYY 4x150 SE", name="Oost 1b")
    pp.create_line(net, b[2], b[5], 0.12, "NAYY 4x150 SE", name="Oost 2")
    pp.create_line(net, b[6], b[7], 0.10, "NAYY 4x150 SE", name="West 1")
    tie = pp.create_line(net, b[5], b[7], 0.2, "NAYY 4x150 SE", name="tie")
    pp.create_switch(net, b[7], tie, "l", closed=tie_closed, name="tie open point")
    for bus, p_mw in zip((3, 4, 4, 5, 7), LOAD_P_MW):
        pp.create_load(net, b[bus], p_mw=p_mw, q_mvar=0.2 * p_mw)
    pp.create_sgen(net, b[4], p_mw=0.005, name="PV")
    pp.create_load(net, mv, p_mw=1.0, name="MV customer")
    return net
