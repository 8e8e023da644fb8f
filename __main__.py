"""pvenet's root program: the networks described in stack config ``pvenet:networks``.

``pulumi up -s dev`` builds what ``Pulumi.dev.yaml`` describes, ``-s prod`` what
``Pulumi.prod.yaml`` does; see ``components/stack.py`` and the README.
"""

from components.stack import main

main()
