// TidePort
