def write(md, backbones):
    pass
