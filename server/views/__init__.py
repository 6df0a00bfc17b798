"""What pages show and for whom, with no HTTP in it: used by server/web and server/live alike."""
