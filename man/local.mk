# Manual pages: the daemon (8) and its configuration file (5).
dist_man_MANS = man/hostdevd.8 man/hostdevd.conf.5
