# modules/workflow: the workflow API responder and worker (to be written).
