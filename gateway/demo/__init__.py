"""`enforcegw demo`: the gateway on a synthetic day in Guicheng, Nanhai (Foshan).

Modules, one concept each: `clock` (simulated time), `curves` (signal building blocks), `noise`, `dust`,
`fume` (sensor signal generators), `route` (drone patrol geometry and schedule), `scenario` (all streams as
MQTT messages in time order), `fleet` + `devices.yaml` (the sample devices), `zones` (their geofences),
`publisher` (paho thread), `stats` + `render` (the live summary), `runner` (lifecycle).
The command is gateway/commands/demo.py.
"""
