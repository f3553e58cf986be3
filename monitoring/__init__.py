"""The portal watching itself: /metrics, the gauges' beat task and the dead-man auditor."""
