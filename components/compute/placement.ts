/**
 * What every VM of the facility shares: image, network, key pair, security groups, tags.
 * Built once in index.ts and handed to each role's component.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { VmRole } from "../config/quota";
import { FacilityConfig } from "../config/schema";
import { onMockMonitor } from "../runtime";

export interface VmPlacement {
    imageId: pulumi.Input<string>;
    networkId: pulumi.Input<string>;
    /** The subnet CIDR: fixed addresses derive from it (components/network/addressing.ts). */
    subnetCidr: string;
    keyPairName: pulumi.Input<string>;
    securityGroupNames: Record<VmRole, pulumi.Input<string>>;
    securityGroupIds: Record<VmRole, pulumi.Input<string>>;
    /** The subnet: ports the program makes itself (control planes) take their fixed address on it. */
    subnetId: pulumi.Input<string>;
    /** External network name, for floating IPs. */
    externalNetwork: string;
    availabilityZone?: string;
    /** stack / environment metadata put on every server. */
    metadata: Record<string, string>;
    /** The router interface: VMs need the way out to install packages. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * The Glance image every VM boots: `openstack.imageId` when pinned. Otherwise `openstack.image` is
 * looked up by name, only to help fill the id in: a newer image under that name would replace
 * every VM (delete first), so each run warns with the id to pin.
 */
export function vmImageId(config: FacilityConfig, opts: pulumi.InvokeOptions): pulumi.Input<string> {
    if (config.openstack.imageId) return config.openstack.imageId;
    return openstack.images.getImageOutput({ name: config.openstack.image, mostRecent: true }, opts).id.apply((id) => {
        // Said on a real preview or update; the offline engine's ids are not worth pinning.
        if (!onMockMonitor()) pulumi.log.warn(`incant:openstack.image "${config.openstack.image}" resolves to ${id}; pin it with ` +
            `pulumi config set --path incant:openstack.imageId ${id} --stack ${config.stack} (a newer image under that name would replace every VM)`);
        return id;
    });
}
