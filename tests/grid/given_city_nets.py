"""A small hand-made whole-city pandapower net (MV and LV), for the whole-city given-grid tests.

Layout (bus numbers)::

    bus 0 110 kV (ext_grid "Hengelo TenneT") --trafo 0 "Weideweg 110/10 kV" 25 MVA--> bus 1 (10 kV busbar)
    open ring: 1 -line 0- 2 -line 1- 3 -line 2-x- 4 -line 3- 1     (open switch on line 2 at bus 4)
    substations: bus 2 --"MSR A" 400 kVA--> LV 5 -line 4- 6 (loads at 6, 6)        zone WK016400
                 bus 3 --"MSR B" 400 kVA--> LV 7 -line 5- 8 (load at 8)            zone WK016400
                 bus 4 --"MSR C" 250 kVA--> LV 9 -line 6- 10 (loads at 10, 10, 10) zone WK016405
    MV: a 1 MW load at bus 3 and a 0.5 MW sgen at bus 2 (replaced by the scenario's MV connections)

MV buses carry WGS84 geodata in Hengelo, about 600 m apart.
"""

from __future__ import annotations

import pandapower as pp

MV_LINE = "NA2XS2Y 1x240 RM/25 6/10 kV"
LV_LINE = "NAYY 4x150 SE"
#: (lon, lat) of MV buses 1..4 [deg]
MV_SITES = {1: (6.7930, 52.2660), 2: (6.8010, 52.2660), 3: (6.8010, 52.2600), 4: (6.7930, 52.2600)}


def city_net() -> pp.pandapowerNet:
    net = pp.create_empty_network()
    hv = pp.create_bus(net, 110.0, name="HV", geodata=(6.7925, 52.2665))
    mv = {k: pp.create_bus(net, 10.0, name=f"MV {k}", geodata=MV_SITES[k]) for k in (1, 2, 3, 4)}
    pp.create_ext_grid(net, hv, vm_pu=1.0, name="Hengelo TenneT")
    pp.create_transformer(net, hv, mv[1], "25 MVA 110/10 kV", name="Weideweg 110/10 kV")
    ring = [pp.create_line(net, mv[a], mv[b], km, MV_LINE, name=f"ring {a}-{b}")
            for a, b, km in ((1, 2, 0.7), (2, 3, 0.8), (3, 4, 0.7), (4, 1, 0.8))]
    pp.create_switch(net, mv[4], ring[2], "l", closed=False, name="open point")
    zones = {"MSR A": "WK016400", "MSR B": "WK016400", "MSR C": "WK016405"}
    for name, at, std, n_load in (("MSR A", 2, "0.4 MVA 10/0.4 kV", 2), ("MSR B", 3, "0.4 MVA 10/0.4 kV", 1),
                                  ("MSR C", 4, "0.25 MVA 10/0.4 kV", 3)):
        busbar = pp.create_bus(net, 0.4, name=f"{name} busbar", zone=zones[name])
        end = pp.create_bus(net, 0.4, name=f"{name} street", zone=zones[name])
        pp.create_transformer(net, mv[at], busbar, std, name=name)
        pp.create_line(net, busbar, end, 0.15, LV_LINE, name=f"{name} feeder")
        for _ in range(n_load):
            pp.create_load(net, end, p_mw=0.01)
    pp.create_load(net, mv[3], p_mw=1.0, name="MV customer")
    pp.create_sgen(net, mv[2], p_mw=0.5, name="MV solar")
    return net
