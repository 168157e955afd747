"""sim room: vectorised quadrotor + PX4-like cascaded controller, reference families, noise models, and the
batch generator behind `uav-traj generate` (see docs/architecture.md and docs/data.md).

Public API::

    generate_flights(n_flights, duration_s, seed=0, families=None, rate=100.0, noise="mocap") -> list[Flight]
    simulate_flights(...) -> list[SimulatedFlight]      # same, with family and drawn parameters per flight
    FAMILIES                                             # name -> Family (reference families)
    ReferenceGenerator(seed).draw(family, duration_s, dt) -> Reference (p, v, a, yaw; .sample(t))
    QuadrotorSim(n_vehicles, seed).reset / set_setpoint / step(dt) / state()   # real-time vehicles
    NOISE_MODELS                                         # "none", "mocap", "vio", "gnss"
"""
from .generator import SimulatedFlight, generate_flights, simulate_flights
from .noise import NOISE_MODELS, apply_noise
from .profiles import VEHICLE_PROFILES, draw_vehicle, draw_wind
from .references import FAMILIES, Family, Reference, ReferenceGenerator
from .vehicle import GRAVITY, QuadrotorSim, VehicleParams, attitude_quaternions

__all__ = [
    "FAMILIES", "GRAVITY", "NOISE_MODELS", "VEHICLE_PROFILES", "Family", "QuadrotorSim", "Reference",
    "ReferenceGenerator", "SimulatedFlight", "VehicleParams", "apply_noise", "attitude_quaternions",
    "draw_vehicle", "draw_wind", "generate_flights", "simulate_flights",
]
