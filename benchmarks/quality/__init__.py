"""Quality where users are: hints on real code (false alarms, detection), agreement, surprise, label noise."""
