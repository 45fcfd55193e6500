"""The two Textual dashboards (producer and consumer controllers), their widgets and styles.

The UI only reads immutable metric snapshots and sends commands to the load engine; it never
touches a socket.
"""
