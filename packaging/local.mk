# systemd unit and configuration.
