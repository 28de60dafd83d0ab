"""What the pools app plugs into: menus, pages, jobs and customer outputs."""
