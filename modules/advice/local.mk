# modules/advice: prime-handoff, crystal-analyze-import and approve-import (to be written).
