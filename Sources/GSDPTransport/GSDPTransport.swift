// Placeholder until the transport lands.
import GSDP
