"""The host side of the dataport USB protocol: discovery, sessions, downloads, captures."""
