# modules/events: the import-events stream responder (to be written).
