"""pvenet's component resources, in the words of the Proxmox admin guide."""
