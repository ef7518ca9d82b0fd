"""The local backend's cloud: moto for the control plane, the workshop's own data plane."""
